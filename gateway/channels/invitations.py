"""Cohorts' invitations and weekly reports (docs/programs.md, Cohorts), two steps of the
outbox worker's round, like the scheduler (gateway/channels/scheduled.py).

Invitations: from its start date, each cohort's waiting numbers are invited, at most its
program's `invitations_per_minute` a minute: one SMS each, in the learner's language
(the program's when the number is not a learner yet), held past the carrier's quiet
hours, never to a number that sent STOP, never twice for one cohort. Nobody joins until
they answer it (the program's keyword, USSD code or web link): the engine then enrols
them in the cohort's course (gateway/learning/engine.py, `_join`).

Reports: once a week from a week after its start date, a cohort with contacts sends
each of them a few lines: joined, active this week, lessons completed, certificates.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from gateway import programs
from gateway.channels.commands import yes_word
from gateway.config import Carriers
from gateway.i18n import translations
from gateway.learning.timing import learner_zone, quiet_end
from gateway.outbox.queue import queue_text
from gateway.phones import masked
from gateway.programs import Program
from gateway.store import Store, privacy
from gateway.store import cohorts as stored
from gateway.urls import web_url

log = logging.getLogger(__name__)

WEEK = 7 * 86400.0
BATCH = 500  # invitations a transaction: the webhooks keep answering while a cohort queues


def _starts(cohort: stored.Cohort) -> float:
    return datetime.combine(date.fromisoformat(cohort.starts_on), datetime.min.time(),
                            UTC).timestamp()


def invitation_text(program: Program, locale: str, base_url: str | None) -> str:
    """The invitation a number of `program`'s cohort gets, in `locale`: it names the
    program and the ways to join it (reply yes, its USSD code, its web link)."""
    gettext = translations(locale).gettext
    ways = [gettext("reply %(keyword)s") % {"keyword": yes_word(locale)}]
    for entry in program.carriers.values():
        if entry.ussd_code:
            ways.append(gettext("dial %(code)s") % {"code": entry.ussd_code})
            break
    if base_url:
        ways.append(gettext("open %(link)s") % {"link": base_url.rstrip("/")
                                                 + program.join_path})
    return gettext("%(program)s invites you to learn by SMS. To join, %(ways)s. "
                   "Reply STOP to receive no more messages.") % {
        "program": program.name, "ways": gettext(", or ").join(ways)}


def run_invitations(store: Store, carriers: Carriers, now: float | None = None, *,
                    stopped_programs: frozenset[str] = frozenset()) -> int:
    """Queue the invitations due: for each cohort whose start date has come, its waiting
    numbers up to its program's pace (`invitations_per_minute`, counted over the last
    minute); none for a program in `stopped_programs` (at its monthly budget: its numbers
    keep waiting for the next month). Returns how many invitations were queued."""
    now = store.clock() if now is None else now
    configured = programs.current()
    queued = 0
    for cohort in stored.with_waiting(store):
        program = configured.get(cohort.program)
        carrier = carriers.get(cohort.carrier_id)
        if program is None or carrier is None or _starts(cohort) > now \
                or cohort.program in stopped_programs:
            continue
        room = program.invitations_per_minute - stored.invited_since(store, cohort.id,
                                                                     now - 60.0)
        if room <= 0:
            continue
        base = web_url(carrier)
        texts: dict[str, str] = {}
        due = stored.waiting(store, cohort.id, room)
        for start in range(0, len(due), BATCH):
            with store.write():
                for invitee in due[start:start + BATCH]:
                    queued += _invite(store, carrier, program, cohort, invitee, now, texts,
                                      base)
    return queued


def _invite(store: Store, carrier, program: Program, cohort: stored.Cohort,
            invitee: stored.Invitee, now: float, texts: dict[str, str],
            base: str | None) -> int:
    """Inside the caller's write transaction: queue one number's invitation (1), or mark
    it stopped when it sent STOP or was erased (0)."""
    learner = store.learner(invitee.phone)
    if (learner is not None and learner.stopped) or (
            learner is None and privacy.is_erased(store, invitee.phone)):
        stored.mark_stopped(store, cohort.id, invitee.phone)
        return 0
    if not stored.mark_invited(store, cohort.id, invitee.phone):
        return 0  # invited meanwhile by another run of the step
    locale = learner.locale if learner is not None and learner.locale else program.default_locale
    if locale not in texts:
        texts[locale] = invitation_text(program, locale, base)
    zone = learner_zone(invitee.phone, learner.timezone if learner else None, carrier.timezone)
    queue_text(store, carrier, invitee.phone, texts[locale], kind="invitation",
               due_at=quiet_end(now, zone, carrier.quiet_hours), program=program.id)
    stored.set_invitation(store, cohort.id, invitee.phone)
    # For the hub's figures across edges: the invitation counts there (docs/sync.md).
    store.record_event(invitee.phone, "program_invited", {
        "program": program.id, "cohort": cohort.uid,
        "cohort_name": cohort.name[:stored.NAME_CHARS], "course": cohort.course_id})
    log.info("invited %s to cohort %d", masked(invitee.phone), cohort.id)
    return 1


def report_text(program: Program, cohort: stored.Cohort, figures: stored.Week,
                members: int, locale: str) -> str:
    """A cohort's weekly report as its contacts read it, a few lines."""
    gettext = translations(locale).gettext
    return "\n".join((
        f"{program.name}: {cohort.name}",
        gettext("Joined: %(joined)d of %(members)d") % {"joined": figures.joined,
                                                         "members": members},
        gettext("Active this week: %(active)d") % {"active": figures.active},
        gettext("Lessons completed this week: %(lessons)d") % {"lessons": figures.lessons},
        gettext("Certificates: %(certificates)d") % {"certificates": figures.certificates},
    ))


def run_reports(store: Store, carriers: Carriers, now: float | None = None) -> int:
    """Queue the weekly reports due: a cohort with contacts reports a week after its start
    date, then a week after its last report. Returns how many reports were queued."""
    now = store.clock() if now is None else now
    configured = programs.current()
    sent = 0
    for cohort in stored.all_cohorts(store):
        program = configured.get(cohort.program)
        carrier = carriers.get(cohort.carrier_id)
        if not cohort.contacts or program is None or carrier is None:
            continue
        last = cohort.report_sent_at if cohort.report_sent_at is not None else _starts(cohort)
        if now < last + WEEK:
            continue
        members = stored.funnel(store, cohort, 0).members
        text = report_text(program, cohort, stored.week(store, cohort, now - WEEK), members,
                           program.default_locale)
        with store.write():
            for contact in cohort.contacts:
                queue_text(store, carrier, contact, text, kind="report", program=program.id)
            stored.set_report_sent(store, cohort.id, now)
        sent += 1
    return sent
