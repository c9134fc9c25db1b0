"""What `learnline export` reads of an edge's database: its learning events, page by page
(docs/integrations.md, Research exports).

The events are read in the order this database stored them (`seq`), a page at a time, each
page a query of its own: however many events there are, no more than a page of them is in
memory, and no read transaction stays open for the whole export (a long one would keep the
write-ahead log from being folded back while the gateway goes on writing).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.store.store import Store

PAGE = 5000
# Kinds that are no learning: who was erased and came back (an `erased` event still holds
# the number until the hub has it, gateway/store/events.py), and a cohort's invitation
# queued for a number whose owner has not joined (and may never).
LEFT_OUT_KINDS = ("erased", "readmitted", "program_invited")
# How far apart an event and this edge's note of the same lesson's completion may be
# (both written in one transaction, a few microseconds apart; nobody completes the same
# lesson twice within a second).
_SAME_COMPLETION_SECONDS = 1.0

# (id, edge, learner, kind, at, data as stored JSON, the channel and the language of the
# lesson's completion as this edge noted it: '' where it did not, or for another kind).
ExportRow = tuple[str, str, str, str, float, str, str, str]


def export_rows(store: Store, since: float | None = None, until: float | None = None,
                page: int = PAGE) -> Iterator[ExportRow]:
    """Every event recorded at or after `since` and before `until` (epoch seconds; None:
    no bound) of learners who are not erased, except LEFT_OUT_KINDS, in the order stored,
    read `page` events at a time. A `lesson_completed` event this edge recorded comes with
    how the lesson was taken (`sms`, `ussd`, `web`, `whatsapp`, `link`) and the language
    it was read in, from `lesson_completions`, when that note is of the same completion (a
    lesson completed again keeps only its latest note)."""
    low = float("-inf") if since is None else since
    high = float("inf") if until is None else until
    after = 0
    left_out = ", ".join(f"'{kind}'" for kind in LEFT_OUT_KINDS)
    sql = f"""
        SELECT e.seq, e.id, e.edge, e.learner, e.kind, e.at, e.data,
               coalesce(c.mode, ''), coalesce(c.locale, '')
        FROM events e
        LEFT JOIN lesson_completions c
          ON e.kind = 'lesson_completed' AND c.phone = e.learner
         AND c.course_id = json_extract(e.data, '$.course')
         AND c.lesson_id = json_extract(e.data, '$.lesson')
         AND abs(c.completed_at - e.at) < {_SAME_COMPLETION_SECONDS}
        WHERE e.seq > ? AND e.at >= ? AND e.at < ?
          AND e.learner NOT LIKE 'erased:%' AND e.kind NOT IN ({left_out})
        ORDER BY e.seq LIMIT ?"""
    while True:
        rows = store.db.conn.execute(sql, [after, low, high, page]).fetchall()
        for row in rows:
            yield row[1:]
        if len(rows) < page:
            return
        after = rows[-1][0]
