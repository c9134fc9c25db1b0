"""What each lesson cost, and how each lesson completed here was taken: the SMS segments
queued for a lesson, the USSD sessions that showed it, the bytes of its pages sent and the
WhatsApp messages sent for it by pricing category (service, utility, marketing), per
learner, lesson and carrier (`lesson_costs`); the mode and language of each lesson
completed here (`lesson_completions`). Counts only: prices are applied when a report is
made (gateway/ops/reports.py), so a price changed later applies to past counts too.

These tables are this edge's own bookkeeping, not progress: they are not events, do not
sync, and a lesson completed on another edge is not in them.

`CostsStore` is mixed into `Store` (gateway/store/store.py), whose core gives it the
connection, the clock and the write transaction."""

from __future__ import annotations

MODES = ("sms", "link", "ussd", "web", "whatsapp")


class CostsStore:
    """Lessons' costs in counts, and lessons completed here by mode."""

    def add_lesson_cost(self, phone: str, course_id: str, lesson_id: str, carrier_id: str,
                        *, segments: int = 0, ussd_sessions: int = 0,
                        web_bytes: int = 0, whatsapp_service: int = 0,
                        whatsapp_utility: int = 0, whatsapp_marketing: int = 0) -> None:
        """Count SMS segments, USSD sessions, page bytes or WhatsApp messages (by the
        category they are priced in) toward a learner's lesson, on the carrier that
        carried them."""
        self.db.execute(
            """INSERT INTO lesson_costs (phone, course_id, lesson_id, carrier_id, segments,
                 ussd_sessions, web_bytes, whatsapp_service, whatsapp_utility,
                 whatsapp_marketing) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (phone, course_id, lesson_id, carrier_id) DO UPDATE SET
                 segments = segments + excluded.segments,
                 ussd_sessions = ussd_sessions + excluded.ussd_sessions,
                 web_bytes = web_bytes + excluded.web_bytes,
                 whatsapp_service = whatsapp_service + excluded.whatsapp_service,
                 whatsapp_utility = whatsapp_utility + excluded.whatsapp_utility,
                 whatsapp_marketing = whatsapp_marketing + excluded.whatsapp_marketing""",
            [phone, course_id, lesson_id, carrier_id, segments, ussd_sessions, web_bytes,
             whatsapp_service, whatsapp_utility, whatsapp_marketing])

    def record_lesson_completion(self, phone: str, course_id: str, lesson_id: str,
                                 mode: str, locale: str) -> None:
        """Note a lesson completed now in `mode` (one of MODES), read in `locale`; a
        lesson completed again keeps its latest mode, language and time."""
        if mode not in MODES:
            raise ValueError(f"unknown delivery mode {mode!r}")
        self.db.execute(
            """INSERT INTO lesson_completions (phone, course_id, lesson_id, mode, locale,
                 completed_at) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (phone, course_id, lesson_id) DO UPDATE SET mode = excluded.mode,
                 locale = excluded.locale, completed_at = excluded.completed_at""",
            [phone, course_id, lesson_id, mode, locale, self.clock()])
