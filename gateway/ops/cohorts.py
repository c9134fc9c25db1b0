"""Creating a cohort from a CSV file of phone numbers (docs/programs.md, Cohorts): the
file is read line by line, every problem told as `line N: message`, and nothing is
imported while one remains. Numbers in a national format are read for the program's
country. The same checks serve the dashboard's upload and `learnline cohorts import`."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from gateway import budgets
from gateway.config import Carriers
from gateway.phones import to_e164
from gateway.programs import Program
from gateway.store import Store
from gateway.store import cohorts as stored
from gateway.store import staff as accounts

MAX_BYTES = 20 * 1024 * 1024  # a 200,000-line file of numbers and names fits
MAX_ROWS = 200_000
MAX_PROBLEMS = 50  # told at most; the count of the rest follows
NAME_CHARS = 80


class CohortError(ValueError):
    """A cohort that cannot be created: every problem, one per line of `problems`."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def read_csv(data: bytes, country: str | None) -> list[tuple[str, str]]:
    """The (E.164 phone, name) pairs of a CSV file whose header names a `phone` column and
    optionally a `name` column; a line without its trailing name field has the name ''.
    Raises CohortError naming each bad line: a number that is not one, a number twice, a
    line with more fields than the header or without its number, a missing or unknown
    header, an empty file, a file over MAX_BYTES or MAX_ROWS."""
    if len(data) > MAX_BYTES:
        raise CohortError([f"the file is over {MAX_BYTES // (1024 * 1024)} MB"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CohortError(["the file is not UTF-8 text"]) from None
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(rows, None)
    except csv.Error as exc:
        raise CohortError([f"line 1: {exc}"]) from None
    if header is None or not any(cell.strip() for cell in header):
        raise CohortError(["the file is empty; its first line names the columns: phone,name"])
    columns = [cell.strip().lower() for cell in header]
    unknown = [c for c in columns if c not in ("phone", "name")]
    if "phone" not in columns or unknown or len(set(columns)) != len(columns):
        raise CohortError([f"line 1: the first line names the columns: phone (and optionally "
                           f"name), not {','.join(header)!r}"])
    phone_at, name_at = columns.index("phone"), (columns.index("name")
                                                 if "name" in columns else None)
    problems: list[str] = []
    members: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    line = 1
    try:
        for line, row in enumerate(rows, 2):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(members) >= MAX_ROWS:
                problems.append(f"line {line}: more than {MAX_ROWS} numbers in one file")
                break
            # A line may leave out its trailing optional field (the name), not its number.
            if len(row) > len(columns) or len(row) <= phone_at:
                problems.append(f"line {line}: {_counted(len(row), 'field')}; the header "
                                f"names {_counted(len(columns), 'column')}")
                continue
            raw = row[phone_at].strip()
            try:
                phone = to_e164(raw, country)
            except ValueError:
                problems.append(f"line {line}: {raw!r} is not a phone number"
                                + (f" (read for {country})" if country else ""))
                continue
            if phone in seen:
                problems.append(f"line {line}: {phone} is already on line {seen[phone]}")
                continue
            seen[phone] = line
            name = (" ".join(row[name_at].split())
                    if name_at is not None and name_at < len(row) else "")
            if len(name) > NAME_CHARS:
                problems.append(f"line {line}: the name is over {NAME_CHARS} characters")
                continue
            members.append((phone, name))
    except csv.Error as exc:
        problems.append(f"line {line + 1}: {exc}")
    if problems:
        more = len(problems) - MAX_PROBLEMS
        raise CohortError(problems[:MAX_PROBLEMS]
                          + ([f"... and {more} more problems"] if more > 0 else []))
    if not members:
        raise CohortError(["the file has no numbers; one number a line under the header"])
    return members


def _counted(count: int, noun: str) -> str:
    """'1 field', '2 fields'."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def create_cohort(store: Store, carriers: Carriers, program: Program, *, name: str,
                  course_id: str, starts_on: str, data: bytes, actor: str,
                  contacts: tuple[str, ...] | list[str] = (),
                  address: str | None = None) -> stored.Cohort:
    """Check everything (the name, the course is the program's, the start date, the CSV
    line by line, the weekly report's `contacts`) and create the cohort with every number
    of the file, each waiting for its invitation; audited as `actor`. Raises CohortError
    telling every problem; then nothing is created."""
    problems: list[str] = []
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_CHARS:
        problems.append(f"name: give the cohort a name of 1 to {NAME_CHARS} characters")
    course = store.course(course_id) if course_id else None
    if course is None or course.program != program.id:
        problems.append(f"course: {course_id!r} is not a course of program {program.id!r}")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", starts_on or ""):
        problems.append("start date: a date such as 2026-01-31")
    else:
        try:
            date.fromisoformat(starts_on)
        except ValueError:
            problems.append(f"start date: {starts_on!r} is not a date")
    numbers: list[str] = []
    for raw in contacts:
        if raw.strip():
            try:
                numbers.append(to_e164(raw, program.country))
            except ValueError:
                problems.append(f"contacts: {raw.strip()!r} is not a phone number")
    carrier_id = invitation_carrier(carriers, program)
    if carrier_id is None:
        problems.append("no SMS carrier is configured to send the invitations")
    try:
        members = read_csv(data, program.country)
    except CohortError as exc:
        problems += exc.problems
    if problems:
        raise CohortError(problems)
    assert carrier_id is not None
    cohort = stored.create(store, program=program.id, name=name, course_id=course_id,
                           starts_on=starts_on, carrier_id=carrier_id, created_by=actor,
                           members=members, contacts=tuple(dict.fromkeys(numbers)))
    accounts.audit(store, "cohort created", actor=actor,
                   subject=f"{program.id}/{cohort.id} {name}", address=address)
    accounts.audit(store, f"cohort imported {len(members)} numbers", actor=actor,
                   subject=f"{program.id}/{cohort.id}", address=address)
    return cohort


def budget_warning(store: Store, carriers: Carriers, program: Program) -> str | None:
    """What to tell whoever imports a cohort of `program` while its monthly budget stops
    its invitations (budgets.is_stopped); None when they go as usual."""
    if not budgets.is_stopped(store, carriers, program.id):
        return None
    return (f"{program.name} has reached its monthly budget: this cohort's invitations "
            "wait until the budget allows (next month, or a larger monthly_budget in the "
            "programs file)")


def invitation_carrier(carriers: Carriers, program: Program) -> str | None:
    """The carrier a program's invitations go through: the first SMS carrier the program
    names, else the first SMS carrier configured; None when there is none."""
    sms = [c for c in carriers if c.carries("sms")]
    for carrier in sms:
        if carrier.id in program.carriers:
            return carrier.id
    return sms[0].id if sms else None
