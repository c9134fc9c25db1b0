"""The delivery mode a completed lesson counts under in the operator's cost figures
(docs/operations.md, Cost per completed lesson): full SMS, lesson by link, USSD or web.

The engine knows no channel: the channel that runs it names itself (`Engine(channel=...)`),
and the engine records each lesson completed with the mode this module decides from that
name and the learner."""

from __future__ import annotations

from gateway.store import LearnerRecord

SMS, LINK, USSD, WEB = "sms", "link", "ussd", "web"


def completion_mode(channel: str, learner: LearnerRecord) -> str:
    """The mode of a lesson this learner completed on `channel` ('sms', 'ussd' or 'web'):
    'ussd' and 'web' as named, 'sms' (the whole lesson by SMS) for SMS.

    A learner who chose to get lessons as a link by SMS will count as 'link' here,
    whether they finish the quiz on the page or by SMS: this is the one place that
    decides it from their delivery choice."""
    if channel == USSD:
        return USSD
    if channel == WEB:
        return WEB
    return SMS
