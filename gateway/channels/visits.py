"""What every channel does when a learner acts on it: an SMS, a USSD screen, a lesson page
or quiz on the web.

- Coming back: an explicit act by a number no learner has (texting START, dialling in,
  signing in) readmits a number that was erased, so a fresh learner begins
  (docs/privacy.md).
- Acting: the learner is counted active on the channel today, and seen: reminders start
  again from now and the scheduler's next look at them is planned (docs/scheduling.md).
"""

from __future__ import annotations

from gateway.learning import Engine
from gateway.learning.scheduling import note_seen
from gateway.learning.timing import Pacing
from gateway.store import LearnerRecord, Store, privacy


def comes_back(store: Store, phone: str) -> bool:
    """Inside the caller's write transaction, for a number no learner has: forget that it
    was erased, if it was. Returns whether it was."""
    return privacy.readmit(store, phone)


def learner_acted(engine: Engine, learner: LearnerRecord, channel: str,
                  pacing: Pacing) -> None:
    """Inside the caller's write transaction: `learner` acted on `channel` ("sms", "ussd",
    "web") now. Counts them active there today and notes them seen; saves the learner."""
    store = engine.store
    note_seen(engine, learner, pacing, store.clock())
    store.note_activity(learner.phone, channel)
