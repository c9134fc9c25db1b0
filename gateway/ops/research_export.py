"""Research exports (`learnline export`, docs/integrations.md): learning events as rows for
evaluators, one row per event, learners named by their pseudonym, written as they are read.

The events come from the store (an edge's database, `gateway/store/event_export.py`) or
from the hub's store (every edge's, `HubStore.export_rows`) a page at a time; each becomes
one row here and goes straight to the file, CSV or Parquet, so memory stays the same for
a thousand events or a hundred million. No phone number reaches a row: the learner column
is the keyed hash of `gateway/pseudonyms.py`, and the free texts some events hold (a
learner's name, a question to a tutor, a tutor's answer) are no column at all.
"""

from __future__ import annotations

import csv
import json
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from gateway import xapi
from gateway.ops.reports import FORMULA_STARTS
from gateway.ops.reports import _inert as inert
from gateway.pseudonyms import pseudonym

COLUMNS = ("event_id", "time", "learner", "kind", "course", "lesson", "card", "shown",
           "question", "choice", "correct", "first_try", "score", "total", "passed", "channel",
           "language", "program", "edge")
# Where the text cells are in a row: what an edge or a course author wrote, guarded in CSV
# against a spreadsheet running it as a formula. The others are made here (ids, times,
# pseudonyms, numbers) or checked by pattern on every edge and the hub (kind, edge).
_TEXT = frozenset(COLUMNS.index(name) for name in
                  ("course", "lesson", "channel", "language", "program"))
PARQUET_BATCH = 65_536  # rows a Parquet row group holds: the most kept in memory at once
# Named by the interpreter learnline runs from: a bare `pip` on the PATH may install into
# another Python (the system's, another virtual environment).
PARQUET_INSTALL = f"{shlex.quote(sys.executable)} -m pip install 'learnline[parquet]'"

Row = tuple[Any, ...]
# (id, edge, learner, kind, at, data as stored JSON[, channel, language of the completion])
Source = Iterable[tuple]


class ParquetMissing(RuntimeError):
    """Parquet asked for without pyarrow installed."""


@dataclass(frozen=True)
class Filters:
    """Which events a research export keeps: of these courses (None: any), of this
    program's courses and joins (None: any)."""

    courses: frozenset[str] | None = None
    program: str | None = None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def export_rows(source: Source, key: str, programs_of: dict[str, str],
                filters: Filters = Filters()) -> Iterator[Row]:
    """The rows of `source`'s events (in COLUMNS' order; None where an event says nothing
    of a column) that `filters` keep: learners as their pseudonym under `key`, each
    event's program the one its course belongs to (`programs_of`: course id to program)
    or, for a join, the program joined. Channel and language are the event's own when it
    says (`channel`; `language`, or `locale` for a language chosen or a question), else,
    for a completed lesson, how it was taken and the language it was read in as the edge
    noted them."""
    for record in source:
        event_id, edge, learner, kind, at, stored = record[:6]
        noted_channel, noted_language = record[6:8] if len(record) > 6 else ("", "")
        try:
            data = json.loads(stored)
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        course = _text(data.get("course"))
        if filters.courses is not None and course not in filters.courses:
            continue
        program = _text(data.get("program")) if kind == "program_joined" else None
        if program is None and course is not None:
            program = programs_of.get(course) or None
        if filters.program is not None and program != filters.program:
            continue
        if kind == "answered":
            question = _whole(data.get("question"))
        elif kind == "question_asked":
            question = _whole(data.get("quiz_question"))
        else:
            question = None
        # A card shown (or a lesson read on a page) is told from a place moved (each step
        # of a quiz) as the LRS's statements tell them: one `experienced` each.
        shown = xapi.shown(data) if kind == "card_reached" else None
        yield (event_id, at, pseudonym(key, learner), kind, course, _text(data.get("lesson")),
               _whole(data.get("card")), shown, question, _whole(data.get("choice")),
               _flag(data.get("correct")), _flag(data.get("first_try")),
               _whole(data.get("score")), _whole(data.get("total")),
               _flag(data.get("passed")),
               _text(data.get("channel")) or noted_channel or None,
               _text(data.get("language")) or _text(data.get("locale")) or noted_language
               or None, program, edge)


def iso_time(at: float) -> str:
    """Epoch seconds as ISO 8601 in UTC, to the nearest millisecond (as in Parquet):
    2025-03-04T10:00:00.000Z."""
    millis = round(at * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) \
        + f".{millis % 1000:03d}Z"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def write_csv(rows: Iterable[Row], out: IO[str]) -> int:
    """Write a header line, then one line per row, as each comes (CRLF line ends, UTF-8
    as `out` encodes); a text cell a spreadsheet would run as a formula is quoted with an
    apostrophe, as in every staff CSV. Returns how many rows."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        cells = [_cell(value) for value in row]
        cells[1] = iso_time(row[1])
        for index in _TEXT:
            if cells[index][:1] in FORMULA_STARTS:  # most cells: no call at all
                cells[index] = inert(cells[index])
        writer.writerow(cells)
        count += 1
    return count


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ParquetMissing(f"Parquet needs pyarrow: {PARQUET_INSTALL}") from None
    return pyarrow


def parquet_available() -> None:
    """Nothing when Parquet can be written; ParquetMissing, saying what to install, when
    it cannot (pyarrow is the optional extra `parquet`)."""
    _pyarrow()


def write_parquet(rows: Iterable[Row], out: IO[bytes],
                  batch: int = PARQUET_BATCH) -> int:
    """Write the rows as Parquet, `batch` rows to a row group, each written once full (so
    no more than a batch is in memory); `time` a UTC timestamp in milliseconds, numbers
    64-bit integers, flags booleans, texts strings. Returns how many rows.
    ParquetMissing when pyarrow is not installed."""
    pa = _pyarrow()
    text, whole, flag = pa.string(), pa.int64(), pa.bool_()
    types = (text, pa.timestamp("ms", tz="UTC"), text, text, text, text, whole, text, whole,
             whole, flag, flag, whole, whole, flag, text, text, text, text)
    schema = pa.schema([pa.field(name, kind) for name, kind in zip(COLUMNS, types,
                                                                    strict=True)])
    count = 0
    with pa.parquet.ParquetWriter(out, schema, compression="zstd") as writer:
        columns: list[list[Any]] = [[] for _ in COLUMNS]

        def flush() -> None:
            columns[1][:] = [round(at * 1000) for at in columns[1]]
            writer.write_batch(pa.record_batch(
                [pa.array(values, type=kind) for values, kind in zip(columns, types,
                                                                      strict=True)],
                schema=schema))
            for values in columns:
                values.clear()

        for row in rows:
            for values, value in zip(columns, row, strict=True):
                values.append(value)
            count += 1
            if count % batch == 0:
                flush()
        if columns[0]:
            flush()
    return count


WRITERS: dict[str, Callable[..., int]] = {"csv": write_csv, "parquet": write_parquet}
