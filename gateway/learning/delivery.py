"""The delivery mode a completed lesson counts under in the operator's cost figures
(docs/operations.md, Cost per completed lesson): full SMS, lesson by link, USSD, web or
WhatsApp.

The engine knows no channel: the channel that runs it names itself (`Engine(channel=...)`),
and the engine records each lesson completed with the mode this module decides from that
name and the learner."""

from __future__ import annotations

from gateway.store import LearnerRecord

SMS, LINK, USSD, WEB, WHATSAPP = "sms", "link", "ussd", "web", "whatsapp"


def completion_mode(channel: str, learner: LearnerRecord) -> str:
    """The mode of a lesson this learner completed on `channel` ('sms', 'ussd', 'web' or
    'whatsapp'): 'link' for a learner who gets lessons as a link by SMS
    (`learners.delivery`), whether they finish the quiz on the lesson's page or by SMS;
    else 'ussd', 'web' and 'whatsapp' as named, and 'sms' (the whole lesson by SMS) for
    SMS. A USSD session and a WhatsApp conversation show the lesson itself, so they stay
    'ussd' and 'whatsapp' whatever the choice."""
    if channel in (USSD, WHATSAPP):
        return channel
    if learner.delivery == LINK:
        return LINK
    if channel == WEB:
        return WEB
    return SMS
