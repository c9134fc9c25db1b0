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
    'link' for a learner who gets lessons as a link by SMS (`learners.delivery`), whether
    they finish the quiz on the lesson's page or by SMS; else 'ussd' and 'web' as named,
    and 'sms' (the whole lesson by SMS) for SMS. A USSD session shows the lesson itself,
    so it stays 'ussd' whatever the choice."""
    if channel == USSD:
        return USSD
    if learner.delivery == LINK:
        return LINK
    if channel == WEB:
        return WEB
    return SMS
