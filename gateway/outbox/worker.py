"""The outbox worker: sends queued messages through each carrier, at its rate, reliably.

- Each carrier sends from a thread of its own: a carrier whose API hangs delays
  only its own messages.
- Each message is claimed with a lease; if the worker dies mid-send the lease
  runs out and the message is sent later, not lost (a carrier that accepted it
  but whose answer was lost may then see it twice). The carrier's acceptance is
  recorded before anything else, so a failure after it never sends it again.
- A clock that goes back holds nothing for the size of the step (intervals and
  pacing tolerate it; messages queued "in the future" are moved onto the clock).
- Transient failures are retried with exponential backoff and equal jitter, up
  to `max_attempts`; permanent ones fail at once. Every attempt is recorded.
- A learner who opted out is never sent anything but what may reach them
  (their opt-out confirmation, help).
- Inbound messages stored but never processed (the web process died in
  between) are processed here.
- Retention: about hourly, the bodies of finished messages older than
  `LEARNLINE_RETENTION_DAYS` are blanked (docs/privacy.md); messages to an erased
  number are never sent.
- Learning over time: it visits learners whose next check has come (daily
  lessons, reviews, reminders: gateway/channels/scheduled.py), and holds
  every unsolicited message out of the learner's quiet hours and within the
  carrier's daily cap; replies are never held.
- WhatsApp's 24-hour window is checked again as each unsolicited message goes
  (gateway/outbox/window.py): outside it, a message goes as its template, or
  fails, not retried, saying why (`SendError.fallback`).

The backoff is scheduled in the database (`due_at`), not slept in-process,
so a restart keeps it; that is why it is computed here rather than by a
retry library.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from carrier_adapters import ADAPTERS, CarrierAdapter, SendError
from gateway import budgets, environment, programs
from gateway.channels.invitations import run_invitations, run_reports
from gateway.channels.scheduled import run_scheduled
from gateway.channels.sms.conversation import handle_inbound
from gateway.channels.whatsapp.conversation import handle_whatsapp
from gateway.config import USSD_RESUME_SECONDS, Carrier, Carriers, ConfigError
from gateway.learning.asking import tutor_hours
from gateway.learning.timing import day_start, learner_zone, next_day_start, quiet_end
from gateway.metrics import OUTBOUND
from gateway.outbox import fallback
from gateway.outbox.chats import active_chats
from gateway.outbox.lrs import LrsDelivery, LrsSender, LrsSettings
from gateway.outbox.window import as_sendable
from gateway.phones import masked, masked_in
from gateway.store import OutboxRecord, Store, cohorts, privacy
from gateway.store import lrs as lrs_queue
from gateway.urls import webhook_url

log = logging.getLogger(__name__)

FROM_ENV = object()  # OutboxWorker's `lrs` default: the settings in the environment

DEFAULT_RETENTION_DAYS = 90
RETENTION_EVERY_SECONDS = 3600.0  # how often the worker forgets old bodies
RETENTION_BATCH = 500  # messages blanked per write transaction
# How long a sender keeps trying to record that the carrier accepted a message while the
# database refuses writes.
ACCEPTED_PATIENCE_SECONDS = 120.0
# While a carrier's API refuses the gateway's credentials, its sending pauses, and one
# message tries them again this often.
REFUSED_PROBE_SECONDS = 60.0
# Inbound messages stored but never processed are taken this many at a time, and a running
# worker takes at most this many batches a round.
RECOVERY_BATCH = 100
RECOVERY_BATCHES = 10


def retention_days_from_env(env: Mapping[str, str] | None = None) -> int:
    """`$LEARNLINE_RETENTION_DAYS` (in `env`, default the process's environment): after how
    many days the bodies of finished messages are blanked (default 90; 0 keeps them
    forever). Raises ConfigError naming the variable when it is not a whole number of days."""
    settings = environment.snapshot() if env is None else env
    raw = settings.get("LEARNLINE_RETENTION_DAYS", "").strip()
    if not raw:
        return DEFAULT_RETENTION_DAYS
    if not raw.isascii() or not raw.isdigit() or int(raw) > 36500:
        raise ConfigError(f"LEARNLINE_RETENTION_DAYS={raw!r}: a whole number of days from 0 "
                          "(keep message bodies forever) to 36500; the default is "
                          f"{DEFAULT_RETENTION_DAYS}")
    return int(raw)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure."""

    max_attempts: int = 10
    base_delay: float = 5.0
    max_delay: float = 3600.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based): half to all of the
        exponential ceiling (equal jitter), so retries spread out but never come early."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return rng.uniform(ceiling / 2, ceiling)


@dataclass
class DrainReport:
    """What one run of the worker did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    recovered_inbound: int = 0
    forgotten: int = 0  # message bodies blanked by retention
    scheduled: int = 0
    deferred: int = 0
    invited: int = 0  # cohorts' invitations queued
    reported: int = 0  # cohorts' weekly reports queued
    statements: int = 0  # xAPI statements the school's LRS took (docs/integrations.md)
    # Why the LRS did not take everything waiting (None: it did, or none is set), and
    # then what still waits for it: learning events, voiding statements.
    lrs_error: str | None = None
    lrs_waiting: tuple[int, int] = (0, 0)


class OutboxWorker:
    """Sends due messages for every configured carrier.

    Each carrier sends from a thread of its own (with its own connection), so a carrier
    whose API hangs holds up only its own messages. The thread that calls `run` recovers
    inbound messages, applies retention, runs the scheduler and beats. A database error
    in any of them stops them all and is raised from `run`: the process ends and its
    supervisor (`learnline serve`, systemd) starts it again.
    """

    def __init__(
        self,
        db_path: str | Path,
        carriers: Carriers,
        *,
        adapters: dict[str, CarrierAdapter] | None = None,
        lease_seconds: float = 60.0,
        retry: RetryPolicy | None = None,
        inbound_grace_seconds: float = 30.0,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        schedule_seconds: float = 30.0,
        retention_days: int | None = None,
        phone: str | None = None,
        lrs: LrsSettings | object | None = FROM_ENV,
    ):
        """`phone`: send only the messages to this number and schedule only its learner,
        with no recovery of inbound messages, retention or heartbeat (a `learnline chat`'s
        worker). Without it, console messages to a number a chat talks as are left to
        that chat. `lrs`: the school's LRS the learning events go to (default: from the
        environment, ConfigError when its settings are wrong; None: no LRS); a chat's
        worker sends none."""
        self.db_path = db_path
        self.phone = phone
        self.carriers = carriers
        self.adapters = adapters or {
            c.id: ADAPTERS[c.adapter](c.wire) for c in carriers
        }
        self.lease_seconds = lease_seconds
        self.retry = retry or RetryPolicy()
        self.inbound_grace_seconds = inbound_grace_seconds
        self.rng = rng or random.Random()
        self.clock = clock
        self.wall_clock = wall_clock  # the store's time: due dates, local hours
        self.schedule_seconds = schedule_seconds
        # None: from the environment (raises ConfigError at start-up when invalid).
        self.retention_days = (retention_days_from_env() if retention_days is None
                               else retention_days)
        try:  # the worker answers stored messages, ASK among them: checked at start-up too
            tutor_hours()
        except ValueError as problem:
            raise ConfigError(str(problem)) from None
        # The programs file, checked at start-up: its reading is kept should it turn bad.
        programs.current()
        settings = LrsSettings.from_env() if lrs is FROM_ENV else lrs
        self.lrs = (LrsDelivery(settings, rng=self.rng, clock=clock)
                    if isinstance(settings, LrsSettings) and phone is None else None)
        self._last_retention = float("-inf")
        self._next_slot: dict[str, float] = {}
        self._stop = threading.Event()
        self._halt = threading.Event()  # this run's senders end (stop, an error, drained)
        self._sender_done = threading.Event()
        self._refused: set[str] = set()  # carriers whose API refused our credentials
        self._told_refused: set[str] = set()  # refusals this worker logged as errors
        self._probe_at: dict[str, float] = {}  # when a refusing carrier is tried again
        self._tally_lock = threading.Lock()
        self._signalled = False  # SIGTERM or SIGINT came (install_signal_handlers)
        # Programs whose monthly budget is reached, read once a scheduling round (the
        # senders' hot path reads this set, never the database, for it).
        self._stopped_programs: frozenset[str] = frozenset()
        self.report = DrainReport()

    def stop(self) -> None:
        """Ask the worker to finish the message in hand and return."""
        self._stop.set()
        self._halt.set()

    def install_signal_handlers(self) -> None:
        """Stop cleanly on SIGTERM and SIGINT (the run loop looks within a second)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, *_: object) -> None:
        # A handler runs between two bytecodes of the main thread, perhaps inside the
        # handling of the signal before it (SIGTERM from `serve`, then again as `serve`
        # ends): setting an Event here takes its lock, which the interrupted handler may
        # hold, and would wait forever. It only raises a flag; the run loop stops.
        self._signalled = True

    def run(self, *, drain: bool = False, poll_seconds: float = 0.5) -> DrainReport:
        """Send until stopped; with `drain`, return once nothing more is due. Raises the
        first error of any carrier's sender, once every sender has finished its message."""
        self._halt = threading.Event()
        if self._stop.is_set():
            return self.report
        with Store.open(self.db_path, clock=self.wall_clock) as store:
            self._refused = set(store.refusals())
            if self.phone is None:  # a chat's worker knows the console carrier only
                for gone in self._refused - {carrier.id for carrier in self.carriers}:
                    store.clear_refusal(gone)  # no longer configured: nothing waits on it
                    self._refused.discard(gone)
                self.catch_up_clock(store)
            last_wall = store.clock()
            last_recovery = last_schedule = float("-inf")
            senders: list[_Sender] = []
            senders_started = False
            lrs_sender = None
            if self.lrs is not None and not drain:
                lrs_sender = LrsSender(self.db_path, self.lrs, self._halt, self.wall_clock)
                lrs_sender.start()
            try:
                while not self._stop.is_set():
                    if self._signalled:
                        self.stop()
                        break
                    self._sender_done.clear()
                    now = self.clock()
                    # A chat's worker (`phone`) leaves the gateway's upkeep, and other
                    # learners, to `learnline worker`: it knows the console carrier only.
                    if self.phone is None and _elapsed(now, last_recovery,
                                                       1.0 if drain else 5.0):
                        wall, last_wall = last_wall, store.clock()
                        if last_wall < wall - 1.0:  # the wall clock went back
                            self.catch_up_clock(store)
                        self.recover_inbound(store, drain=drain)
                        last_recovery = self.clock()
                        self.apply_retention(store)
                    if _elapsed(now, last_schedule, self.schedule_seconds):
                        self._stopped_programs = budgets.check(store, self.carriers)
                        self._tally("scheduled", run_scheduled(
                            store, self.carriers, phone=self.phone,
                            stopped_programs=self._stopped_programs))
                        if self.phone is None:  # cohorts reach other learners
                            self._tally("invited", run_invitations(
                                store, self.carriers,
                                stopped_programs=self._stopped_programs))
                            self._tally("reported", run_reports(store, self.carriers))
                        last_schedule = self.clock()
                    for sender in senders:
                        if sender.error is not None:
                            raise sender.error
                    if lrs_sender is not None and lrs_sender.error is not None:
                        raise lrs_sender.error
                    senders = [s for s in senders if s.is_alive()]
                    if not senders:
                        if drain and senders_started and self._due(store) == 0:
                            break
                        senders = self._start_senders(drain, poll_seconds)
                        senders_started = True
                    self._sender_done.wait(min(poll_seconds, 1.0))
            finally:
                self._halt.set()
                for sender in senders:
                    sender.join()
                if lrs_sender is not None:
                    lrs_sender.join()
            for sender in senders:
                if sender.error is not None:
                    raise sender.error
            if lrs_sender is not None and lrs_sender.error is not None:
                raise lrs_sender.error
            if self.lrs is not None and drain and not self._stop.is_set():
                # What the messages' drain left due (the learning events of the inbound
                # messages it processed among them), once: a failure waits for next time.
                before = self.lrs.total.statements
                if not self.lrs.send_due(store, self._stop):
                    left = lrs_queue.backlog(store)
                    self.report.lrs_error = self.lrs.error
                    self.report.lrs_waiting = (left["events"], left["voids"])
                self._tally("statements", self.lrs.total.statements - before)
        return self.report

    def _start_senders(self, drain: bool, poll_seconds: float) -> list[_Sender]:
        senders = [_Sender(self, carrier, drain=drain, poll_seconds=poll_seconds)
                   for carrier in self.carriers]
        for sender in senders:
            sender.start()
        return senders

    def _due(self, store: Store) -> int:
        return sum(store.due_count(carrier.id, phone=self.phone) for carrier in self.carriers
                   if self._paused_for(carrier.id) == 0.0)

    def _paused_for(self, carrier_id: str) -> float:
        """Seconds until a carrier refusing the gateway's credentials is tried again; 0.0
        when it sends now."""
        if carrier_id not in self._refused:
            return 0.0
        return max(0.0, self._probe_at.get(carrier_id, float("-inf")) - self.clock())

    def _tally(self, field: str, count: int = 1) -> None:
        with self._tally_lock:
            setattr(self.report, field, getattr(self.report, field) + count)

    def send_for(self, store: Store, carrier: Carrier, *, drain: bool,
                 poll_seconds: float) -> None:
        """Send one carrier's due messages at its rate until the run halts (with `drain`:
        until none is due)."""
        interval = 1.0 / carrier.tps
        while not self._halt.is_set():
            paused = self._paused_for(carrier.id)
            if paused:  # its credentials are refused: no message tried until the probe
                if drain:
                    return
                self._halt.wait(min(paused, poll_seconds))
                continue
            now = self.clock()
            slot = self._next_slot.get(carrier.id, 0.0)
            if now < slot:
                if slot - now <= interval:
                    self._halt.wait(slot - now)
                    continue
                slot = now  # the clock went back: the slot is not that far away
            claimed_at = self.clock()
            message = store.claim_due(carrier.id, self.lease_seconds, phone=self.phone,
                                      skip_phones=self._chatting(carrier))
            if message is None:
                if drain:
                    return
                self._halt.wait(poll_seconds)
                continue
            self._next_slot[carrier.id] = max(slot, now) + interval
            self._deliver(store, message, lease_ends=claimed_at + self.lease_seconds)

    def catch_up_clock(self, store: Store) -> int:
        """Messages queued before the wall clock went back carry times ahead of it: wait
        for them only as long as they meant to (Store.rebase_future_outbox). Run at start
        (the clock may have gone back while no worker ran) and whenever the worker sees
        the clock go back (the check reads every waiting message). Returns how many were
        moved."""
        moved, step = store.rebase_future_outbox(store.clock())
        if moved:
            log.warning("the clock went back by about %.0f s: %d queued message(s) moved "
                        "onto it", step, moved)
        return moved

    def recover_inbound(self, store: Store, *, drain: bool = False) -> int:
        """Process inbound messages that were stored but never processed: with `drain`,
        every one; otherwise up to RECOVERY_BATCHES batches a round, so that a long
        backlog does not hold the scheduler and retention back."""
        grace = 0.0 if drain else self.inbound_grace_seconds
        recovered = 0
        tried: set[int] = set()
        for _ in range(RECOVERY_BATCHES if not drain else 1_000_000):
            batch = store.unprocessed_inbound(store.clock() - grace, RECOVERY_BATCH)
            fresh = [inbound for inbound in batch if inbound.id not in tried]
            recovered += self._recover(store, fresh)
            tried.update(inbound.id for inbound in fresh)
            # A message left waiting (a busy database) is tried again next round, not now.
            if len(batch) < RECOVERY_BATCH or not fresh or self._stop.is_set():
                break
        self._tally("recovered_inbound", recovered)
        store.purge_ussd_sessions(store.clock() - USSD_RESUME_SECONDS)
        store.beat("worker")
        return recovered

    def _recover(self, store: Store, batch: list) -> int:
        recovered = 0
        for inbound in batch:
            carrier = self.carriers.get(inbound.carrier_id)
            if carrier is None:
                log.error("inbound %d names unknown carrier %s", inbound.id, inbound.carrier_id)
                store.mark_inbound(inbound.id, "failed", "carrier no longer configured")
                continue
            if carrier.carries("whatsapp"):  # a Twilio carrier may carry either
                handle_whatsapp(store, carrier, inbound)
            else:
                handle_inbound(store, carrier, inbound)
            recovered += 1
        return recovered

    def apply_retention(self, store: Store, *, force: bool = False) -> int:
        """Blank the bodies of finished messages older than `retention_days` (by the
        store's clock), in short batches; at most once per RETENTION_EVERY_SECONDS unless
        `force`. Returns how many were blanked; nothing when retention_days is 0."""
        if not self.retention_days:
            return 0
        if not force and not _elapsed(self.clock(), self._last_retention,
                                      RETENTION_EVERY_SECONDS):
            return 0
        self._last_retention = self.clock()
        cutoff = store.clock() - self.retention_days * 86400.0
        forgotten = privacy.forget_bodies(store, cutoff, RETENTION_BATCH)
        if environment.get("LEARNLINE_ROLE", "").strip().lower() == "hub":
            forgotten += _forget_hub_question_texts(cutoff)
        self._tally("forgotten", forgotten)
        if forgotten:
            log.info("retention: blanked %d message bodies older than %d days", forgotten,
                     self.retention_days)
        return forgotten

    def _chatting(self, carrier) -> frozenset[str]:
        """Numbers whose console messages a running `learnline chat` prints itself."""
        if self.phone is not None or carrier.adapter != "console":
            return frozenset()
        return active_chats(self.db_path)

    def _deliver(self, store: Store, message: OutboxRecord, *, lease_ends: float) -> None:
        carrier = self.carriers[message.carrier_id]
        learner = store.learner(message.phone)
        if learner is None and not message.to_stopped_ok and privacy.is_erased(
                store, message.phone):  # claimed just before the learner was erased
            self._finish(store, message, "cancelled", detail="learner erased")
            self._tally("cancelled")
            return
        if learner is not None and learner.stopped and not message.to_stopped_ok:
            self._finish(store, message, "cancelled", detail="learner opted out")
            self._tally("cancelled")
            return
        if budgets.held_back(message.kind, message.program, self._stopped_programs):
            with store.write():
                self._finish(store, message, "cancelled", detail=budgets.STOPPED_DETAIL)
                if message.kind == "invitation":  # never had it: invited once the stop lifts
                    cohorts.invitation_cancelled(store, message.phone, message.id)
            self._tally("cancelled")
            return
        if message.kind != "reply" and learner is not None:
            held_until = self._held_until(store, message, learner)
            if held_until is not None:
                store.defer_send(message.id, held_until)
                self._tally("deferred")
                return
        try:
            message = as_sendable(store, carrier, message, learner.locale if learner
                                  else carrier.locale or "en")
        except SendError as exc:  # outside WhatsApp's window, and no template
            self._failed(store, message, exc)
            return
        adapter = self.adapters[carrier.id]
        extra = {}
        if adapter.reply_keys:  # the carrier wants fields of the message we answer
            meta = store.inbound_meta(message.inbound_id)
            extra["reply"] = {k: v for k, v in meta.items() if k in adapter.reply_keys}
        if message.payload and adapter.takes_payload:  # buttons, a list: WhatsApp's
            extra["payload"] = json.loads(message.payload)
        try:
            result = adapter.send(
                message.phone, message.body, status_url=webhook_url(carrier, "status"), **extra
            )
        except SendError as exc:
            self._failed(store, message, exc)
            return
        except Exception as exc:  # an adapter bug must not kill the worker
            log.exception("carrier %s adapter raised on message %d", carrier.id, message.id)
            self._failed(store, message, SendError(f"adapter error: {exc}", retry=True))
            return
        # The carrier has the message: record that first, on its own, so that nothing
        # failing afterwards (the attempt's bookkeeping, a crash) makes it due again.
        self._record_accepted(store, message, result.carrier_message_id, lease_ends)
        self._finish(store, message, "accepted", carrier_message_id=result.carrier_message_id,
                     carrier_ref=result.carrier_ref)
        if carrier.id in self._refused:
            store.clear_refusal(carrier.id)
            self._refused.discard(carrier.id)
            self._told_refused.discard(carrier.id)
            log.info("carrier %s accepts the gateway's credentials again", carrier.id)
        self._tally("sent")
        log.info("sent message %d to %s via %s", message.id, masked(message.phone), carrier.id)

    def _held_until(self, store: Store, message: OutboxRecord, learner) -> float | None:
        """When an unsolicited message may go instead of now: the end of the learner's
        quiet hours, or the next local day once today's cap is reached; None: now."""
        carrier = self.carriers[message.carrier_id]
        now = store.clock()
        zone = learner_zone(learner.phone, learner.timezone, carrier.timezone)
        allowed = quiet_end(now, zone, carrier.quiet_hours)
        if allowed > now:
            return allowed
        today = day_start(now, zone)
        if store.unsolicited_sent_since(learner.phone, today) >= carrier.max_unsolicited_per_day:
            return quiet_end(next_day_start(now, zone), zone, carrier.quiet_hours)
        return None

    def _record_accepted(self, store: Store, message: OutboxRecord,
                         carrier_message_id: str, lease_ends: float) -> None:
        """Mark the message sent, retrying a database that refuses the write (busy past
        its timeout, full) for up to ACCEPTED_PATIENCE_SECONDS, and never into the time
        past its lease (`lease_ends`, by self.clock), when another worker may claim and
        send it again: given up, the message will be sent again once its lease runs out."""
        # An attempt may wait the busy timeout before it writes: none starts so late that
        # it could write after the lease ended.
        deadline = min(self.clock() + ACCEPTED_PATIENCE_SECONDS,
                       lease_ends - store.busy_timeout - 1.0)
        pause = 0.1
        while True:
            try:
                store.record_accepted(message.id, carrier_message_id)
                return
            except sqlite3.Error as exc:
                if self.clock() >= deadline:
                    log.error("message %d was accepted by carrier %s as %s but could not be "
                              "recorded: it may be sent again", message.id,
                              message.carrier_id, carrier_message_id)
                    raise
                log.warning("message %d was accepted by carrier %s; recording it: %s; "
                            "trying again in %.1fs", message.id, message.carrier_id, exc, pause)
                time.sleep(max(0.0, min(pause, deadline - self.clock())))
                pause = min(pause * 2, 5.0)

    @staticmethod
    def _finish(store: Store, message: OutboxRecord, outcome: str, **details) -> None:
        store.finish_send(message.id, outcome, **details)
        OUTBOUND.labels(message.carrier_id, "retry" if outcome == "held" else outcome).inc()

    def _failed(self, store: Store, message: OutboxRecord, exc: SendError) -> None:
        if exc.refuses_credentials:
            if exc.retry:
                self._refusal(store, message, exc)
                return
            store.record_refusal(message.carrier_id, exc.detail)  # and the message fails
            self._refused.add(message.carrier_id)
        if exc.opted_out:
            with store.write():
                store.set_stopped(message.phone, True)
                self._finish(store, message, "failed", detail=exc.detail)
            self._tally("failed")
            log.warning("message %d: %s opted out at the carrier", message.id,
                        masked(message.phone))
            return
        if exc.fallback and self._fell_back(store, message, exc):
            return
        if exc.retry and message.attempts < self.retry.max_attempts:
            delay = self.retry.delay(message.attempts, self.rng)
            self._finish(store, message, "retry", detail=exc.detail,
                         retry_at=store.clock() + delay)
            self._tally("retried")
            log.warning("message %d: %s; retry in %.0fs", message.id, masked_in(exc.detail),
                        delay)
            return
        self._finish(store, message, "failed", detail=exc.detail)
        self._tally("failed")
        log.error("message %d failed: %s", message.id, masked_in(exc.detail))

    def _refusal(self, store: Store, message: OutboxRecord, exc: SendError) -> None:
        """The carrier's API refused the gateway's credentials (a key expired or revoked)
        and its adapter says that may pass: an operator's matter, shown on /readyz, by
        doctor and in /metrics. The carrier's sending pauses, one message trying again
        every REFUSED_PROBE_SECONDS, and none is given up however often it is refused:
        all go, in order, once the key is put right."""
        carrier_id = message.carrier_id
        store.record_refusal(carrier_id, exc.detail)
        self._finish(store, message, "held", detail=exc.detail)
        self._tally("retried")
        self._probe_at[carrier_id] = self.clock() + REFUSED_PROBE_SECONDS
        self._refused.add(carrier_id)
        if carrier_id in self._told_refused:
            log.warning("carrier %s still refuses the gateway's credentials; trying again "
                        "in %.0f s", carrier_id, REFUSED_PROBE_SECONDS)
            return
        self._told_refused.add(carrier_id)
        log.error("carrier %s refuses the gateway's credentials: %s; sending paused, its "
                  "messages kept, trying again every %.0f s", carrier_id,
                  masked_in(exc.detail), REFUSED_PROBE_SECONDS)

    def _fell_back(self, store: Store, message: OutboxRecord, exc: SendError) -> bool:
        """A message its carrier cannot deliver, failed and its copy queued through the
        carrier's fallback_carrier in one transaction (gateway/outbox/fallback.py);
        False when the carrier names no fallback."""
        carrier = self.carriers[message.carrier_id]
        if carrier.fallback_carrier is None:
            return False
        unreachable = exc.code in self.adapters[carrier.id].unreachable_codes
        with store.write():
            queued = fallback.send_instead(store, self.carriers, message,
                                           unreachable=unreachable)
            detail = exc.detail if queued is None else \
                f"{exc.detail}; sent as SMS through {carrier.fallback_carrier}"
            self._finish(store, message, "failed", detail=detail)
        self._tally("failed")
        log.warning("message %d: %s", message.id, masked_in(detail))
        return True


class _Sender(threading.Thread):
    """One carrier's sending, on its own thread and connection; `error` is what ended it
    if it failed."""

    def __init__(self, worker: OutboxWorker, carrier: Carrier, *, drain: bool,
                 poll_seconds: float):
        super().__init__(name=f"outbox-{carrier.id}", daemon=True)
        self.worker, self.carrier = worker, carrier
        self.drain, self.poll_seconds = drain, poll_seconds
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with Store.open(self.worker.db_path, clock=self.worker.wall_clock) as store:
                self.worker.send_for(store, self.carrier, drain=self.drain,
                                     poll_seconds=self.poll_seconds)
        except BaseException as exc:
            log.error("sending for carrier %s stopped: %s: %s", self.carrier.id,
                      type(exc).__name__, exc)  # run() raises it, with its traceback
            self.error = exc
            self.worker._halt.set()
        finally:
            self.worker._sender_done.set()


def _forget_hub_question_texts(cutoff: float) -> int:
    """On a hub, retention of the texts edges' question events carried (and the answers
    it relayed), in the hub's store; 0, logged, when the hub's database fails (the next
    pass tries again)."""
    from gateway.hub.store import open_hub_store

    try:
        with open_hub_store() as hub:
            hub.migrate()
            return hub.forget_question_texts(cutoff)
    except Exception as exc:  # either backend's errors; sending must go on
        log.warning("retention: the hub's question texts wait for the next pass: %s",
                    type(exc).__name__)
        return 0


def _elapsed(now: float, last: float, interval: float) -> bool:
    """Whether `interval` seconds have passed since `last`; also when the clock went back
    (a step backwards must not hold periodic work for the size of the step)."""
    return now - last >= interval or now < last
