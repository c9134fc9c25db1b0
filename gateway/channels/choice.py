"""Which carrier an unsolicited message (daily lesson, review, reminder) goes through: the
learner's chosen channel's (docs/scheduling.md, Channel choice).

A learner chooses 'sms' or 'whatsapp' (the CHANNEL command, the web's settings page, the
USSD menu: `LearnerRecord.channel`); without a choice, messages go where they last wrote
(`LearnerRecord.carrier_id`). A WhatsApp carrier's learners who choose SMS are sent by
its `fallback_carrier`; an SMS carrier's learners who choose WhatsApp by the first
WhatsApp carrier naming that SMS carrier as its `fallback_carrier`
(`Carrier.whatsapp_carrier`): the two carriers then serve the same learners, and a
WhatsApp message that cannot reach one comes back to their SMS carrier.
"""

from __future__ import annotations

from gateway.config import Carrier, Carriers
from gateway.store import LearnerRecord


def carrier_for(learner: LearnerRecord, carriers: Carriers) -> Carrier | None:
    """The carrier unsolicited messages reach `learner` through: their carrier's, or, when
    they chose the other channel and their carrier has a partner on it, that partner;
    None when their carrier is no longer configured."""
    own = carriers.get(learner.carrier_id)
    if own is None or learner.channel is None or learner.channel == own.channel:
        return own
    partner = own.fallback_carrier if learner.channel == "sms" else own.whatsapp_carrier
    return carriers.get(partner) if partner else own
