"""The outbox worker: sends queued messages through each carrier, at its rate, reliably.

- Each message is claimed with a lease; if the worker dies mid-send the lease
  runs out and the message is sent later, not lost (a carrier that accepted it
  but whose answer was lost may then see it twice).
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
  lessons, reviews, reminders: gateway/channels/sms/scheduled.py), and holds
  every unsolicited message out of the learner's quiet hours and within the
  carrier's daily cap; replies are never held.

The backoff is scheduled in the database (`due_at`), not slept in-process,
so a restart keeps it; that is why it is computed here rather than by a
retry library.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from carrier_adapters import ADAPTERS, CarrierAdapter, SendError
from gateway.channels.sms.conversation import handle_inbound
from gateway.channels.sms.scheduled import run_scheduled
from gateway.channels.ussd.session import RESUME_SECONDS
from gateway.chats import active_chats
from gateway.config import Carriers, ConfigError
from gateway.learning.timing import day_start, learner_zone, next_day_start, quiet_end
from gateway.metrics import OUTBOUND
from gateway.phones import masked
from gateway.store import OutboxRecord, Store, privacy
from gateway.urls import webhook_url

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 90
RETENTION_EVERY_SECONDS = 3600.0  # how often the worker forgets old bodies
RETENTION_BATCH = 500  # messages blanked per write transaction


def retention_days_from_env(env: Mapping[str, str] | None = None) -> int:
    """`$LEARNLINE_RETENTION_DAYS` (in `env`, default the process's environment): after how
    many days the bodies of finished messages are blanked (default 90; 0 keeps them
    forever). Raises ConfigError naming the variable when it is not a whole number of days."""
    raw = (os.environ if env is None else env).get("LEARNLINE_RETENTION_DAYS", "").strip()
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


class OutboxWorker:
    """Sends due messages for every configured carrier."""

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
    ):
        """`phone`: send only the messages to this number and schedule only its learner,
        with no recovery of inbound messages, retention or heartbeat (a `learnline chat`'s
        worker). Without it, console messages to a number a chat talks as are left to
        that chat."""
        self.db_path = db_path
        self.phone = phone
        self.carriers = carriers
        self.adapters = adapters or {
            c.id: ADAPTERS[c.adapter](c) for c in carriers
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
        self._last_retention = float("-inf")
        self._next_slot: dict[str, float] = {}
        self._stop = threading.Event()
        self.report = DrainReport()

    def stop(self) -> None:
        """Ask the worker to finish the message in hand and return."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        """Stop cleanly on SIGTERM and SIGINT."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())

    def run(self, *, drain: bool = False, poll_seconds: float = 0.5) -> DrainReport:
        """Send until stopped; with `drain`, return once nothing more is due."""
        with Store.open(self.db_path, clock=self.wall_clock) as store:
            last_recovery = last_schedule = float("-inf")
            while not self._stop.is_set():
                # A chat's worker (`phone`) leaves the gateway's upkeep, and other
                # learners, to `learnline worker`: it knows the console carrier only.
                if self.phone is None and \
                        self.clock() - last_recovery >= (1.0 if drain else 5.0):
                    self.recover_inbound(store, drain=drain)
                    last_recovery = self.clock()
                    self.apply_retention(store)
                if self.clock() - last_schedule >= self.schedule_seconds:
                    self.report.scheduled += run_scheduled(store, self.carriers,
                                                           phone=self.phone)
                    last_schedule = self.clock()
                progressed, wait = self._send_round(store)
                if progressed:
                    continue
                if drain and store.due_count(phone=self.phone) == 0:
                    break
                self._stop.wait(min(poll_seconds, wait) if wait is not None else poll_seconds)
        return self.report

    def recover_inbound(self, store: Store, *, drain: bool = False) -> int:
        """Process inbound messages that were stored but never processed."""
        grace = 0.0 if drain else self.inbound_grace_seconds
        recovered = 0
        for inbound in store.unprocessed_inbound(store.clock() - grace):
            carrier = self.carriers.get(inbound.carrier_id)
            if carrier is None:
                log.error("inbound %d names unknown carrier %s", inbound.id, inbound.carrier_id)
                store.mark_inbound(inbound.id, "failed", "carrier no longer configured")
                continue
            handle_inbound(store, carrier, inbound)
            recovered += 1
        self.report.recovered_inbound += recovered
        store.purge_ussd_sessions(store.clock() - RESUME_SECONDS)
        store.beat("worker")
        return recovered

    def apply_retention(self, store: Store, *, force: bool = False) -> int:
        """Blank the bodies of finished messages older than `retention_days` (by the
        store's clock), in short batches; at most once per RETENTION_EVERY_SECONDS unless
        `force`. Returns how many were blanked; nothing when retention_days is 0."""
        if not self.retention_days:
            return 0
        if not force and self.clock() - self._last_retention < RETENTION_EVERY_SECONDS:
            return 0
        self._last_retention = self.clock()
        cutoff = store.clock() - self.retention_days * 86400.0
        forgotten = privacy.forget_bodies(store, cutoff, RETENTION_BATCH)
        self.report.forgotten += forgotten
        if forgotten:
            log.info("retention: blanked %d message bodies older than %d days", forgotten,
                     self.retention_days)
        return forgotten

    def _send_round(self, store: Store) -> tuple[bool, float | None]:
        """Send at most one message per carrier whose rate allows it now.

        Returns whether anything was sent and, if not, how long until a
        carrier's next slot opens.
        """
        progressed = False
        waits = []
        for carrier in self.carriers:
            now = self.clock()
            slot = self._next_slot.get(carrier.id, 0.0)
            if now < slot:
                waits.append(slot - now)
                continue
            message = store.claim_due(carrier.id, self.lease_seconds, phone=self.phone,
                                      skip_phones=self._chatting(carrier))
            if message is None:
                continue
            self._next_slot[carrier.id] = max(slot, now) + 1.0 / carrier.tps
            self._deliver(store, message)
            progressed = True
        return progressed, (min(waits) if waits else None)

    def _chatting(self, carrier) -> frozenset[str]:
        """Numbers whose console messages a running `learnline chat` prints itself."""
        if self.phone is not None or carrier.adapter != "console":
            return frozenset()
        return active_chats(self.db_path)

    def _deliver(self, store: Store, message: OutboxRecord) -> None:
        carrier = self.carriers[message.carrier_id]
        learner = store.learner(message.phone)
        if learner is None and not message.to_stopped_ok and privacy.is_erased(
                store, message.phone):  # claimed just before the learner was erased
            self._finish(store, message, "cancelled", detail="learner erased")
            self.report.cancelled += 1
            return
        if learner is not None and learner.stopped and not message.to_stopped_ok:
            self._finish(store, message, "cancelled", detail="learner opted out")
            self.report.cancelled += 1
            return
        if message.kind != "reply" and learner is not None:
            held_until = self._held_until(store, message, learner)
            if held_until is not None:
                store.defer_send(message.id, held_until)
                self.report.deferred += 1
                return
        adapter = self.adapters[carrier.id]
        extra = {}
        if adapter.reply_keys:  # the carrier wants fields of the message we answer
            meta = store.inbound_meta(message.inbound_id)
            extra["reply"] = {k: v for k, v in meta.items() if k in adapter.reply_keys}
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
        self._finish(store, message, "accepted", carrier_message_id=result.carrier_message_id)
        self.report.sent += 1
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

    @staticmethod
    def _finish(store: Store, message: OutboxRecord, outcome: str, **details) -> None:
        store.finish_send(message.id, outcome, **details)
        OUTBOUND.labels(message.carrier_id, outcome).inc()

    def _failed(self, store: Store, message: OutboxRecord, exc: SendError) -> None:
        if exc.opted_out:
            with store.write():
                store.set_stopped(message.phone, True)
                self._finish(store, message, "failed", detail=exc.detail)
            self.report.failed += 1
            log.warning("message %d: %s opted out at the carrier", message.id,
                        masked(message.phone))
            return
        if exc.retry and message.attempts < self.retry.max_attempts:
            delay = self.retry.delay(message.attempts, self.rng)
            self._finish(store, message, "retry", detail=exc.detail,
                         retry_at=store.clock() + delay)
            self.report.retried += 1
            log.warning("message %d: %s; retry in %.0fs", message.id, exc.detail, delay)
            return
        self._finish(store, message, "failed", detail=exc.detail)
        self.report.failed += 1
        log.error("message %d failed: %s", message.id, exc.detail)
