"""The `learnline` command line: documented commands, SMS counts, lessons check and import."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from gateway.channels.whatsapp.render import render
from gateway.cli.main import main
from gateway.content import load_courses
from gateway.content.model import SMS
from gateway.learning.replies import CardShown
from gateway.paths import lessons_dir
from gateway.sms_text import POLICIES
from tests.test_content import VALID, course_toml, lesson_with_cards, write_course


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess, with `env` on top of a clean LEARNLINE_* environment."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LEARNLINE_")}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=60)


# -- every command is documented with an example --------------------------------------------


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            paths.extend(_command_paths(command, (*prefix, name)))
        else:
            paths.append((*prefix, name))
    return paths


COMMAND_PATHS = _command_paths(main)


def test_the_commands_we_document_exist():
    assert {("serve",), ("worker",), ("chat",), ("lessons", "check"), ("lessons", "import"),
            ("sms", "count")} <= set(COMMAND_PATHS)


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "learnline")
def test_every_command_help_has_an_example(path):
    result = CliRunner().invoke(main, [*path, "--help"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: ")
    assert re.search(r"^\s*Examples?( \(.*\))?:", result.output, re.M), \
        f"`learnline {' '.join(path)} --help` shows no Example line"


def test_help_from_the_installed_script(tmp_path):
    script = Path(sys.executable).parent / "learnline"
    result = subprocess.run([str(script), "--help"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "lessons" in result.stdout and "Example" in result.stdout


# -- learnline sms count -------------------------------------------------------------------------

LONG_FRENCH = ("Leçon terminée : vous avez répondu juste à 3 questions sur 3 du premier coup. "
               "Répondez SUITE pour la leçon suivante : « Fixer son prix », ou BILAN pour voir "
               "vos progrès.")


SMS_COUNTS = [
    ("exact", "Reply NEXT to go on", "GSM-7", 1),
    ("exact", "Hello {world}", "GSM-7", 1),
    ("exact", "Well done 👍", "UCS-2", 1),
    ("gsm7", "Well done 👍", "UCS-2", 1),  # no GSM-7 look-alike for an emoji
    ("exact", "Leçon 1 : « Trouver un métier »", "UCS-2", 1),
    ("gsm7", "Leçon 1 : « Trouver un métier »", "GSM-7", 1),
    ("exact", LONG_FRENCH, "UCS-2", 3),
    ("gsm7", LONG_FRENCH, "GSM-7", 2),
    ("exact", "x" * 161, "GSM-7", 2),
]


@pytest.fixture(scope="module")
def sms_counts(tmp_path_factory) -> dict[tuple[str, str], dict]:
    """`learnline sms count --json` run once per policy over every text of the table."""
    cwd = tmp_path_factory.mktemp("sms")
    found = {}
    for policy in ("exact", "gsm7"):
        texts = [text for p, text, *_ in SMS_COUNTS if p == policy]
        result = run("sms", "count", "--json", "--policy", policy, *texts, cwd=cwd)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert len(lines) == len(texts)  # one JSON object per TEXT, one per line
        for text, line in zip(texts, lines, strict=True):
            found[(policy, text)] = json.loads(line)
    return found


@pytest.mark.parametrize(("policy", "text", "encoding", "segments"), SMS_COUNTS,
                         ids=lambda v: str(v)[:20])
def test_sms_count_json(sms_counts, policy, text, encoding, segments):
    record = sms_counts[(policy, text)]

    assert set(record) == {"text", "encoding", "segments", "parts"}
    assert record["text"] == text
    assert (record["encoding"], record["segments"]) == (encoding, segments)
    assert len(record["parts"]) == segments
    if policy == "exact":
        assert "".join(record["parts"]) == text


def test_sms_count_json_prints_one_object_per_text_in_order(tmp_path):
    texts = ["NEXT", "Leçon 1", "Bravo 🎉", "ça marche"]
    result = run("sms", "count", "--json", "--policy", "gsm7", *texts, cwd=tmp_path)

    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in records] == texts
    assert [r["encoding"] for r in records] == ["GSM-7", "GSM-7", "UCS-2", "GSM-7"]
    assert records[1]["parts"] == ["Lecon 1"]


def test_sms_count_plain_output_and_bad_policy():
    runner = CliRunner()
    plain = runner.invoke(main, ["sms", "count", "NEXT", "Bravo 👍"])
    assert plain.exit_code == 0
    assert plain.output.splitlines() == ["GSM-7\t1\tNEXT", "UCS-2\t1\tBravo 👍"]

    bad = runner.invoke(main, ["sms", "count", "--policy", "ascii", "x"])
    assert bad.exit_code == 2
    assert "Invalid value for '--policy'" in bad.output


# -- learnline lessons check ---------------------------------------------------------------------

COST_RE = re.compile(r"^  (\w+) ([a-z0-9-]+): " + " / ".join([r"(\d+)"] * len(POLICIES))
                     + r"  \(" + " / ".join([r"(GSM-7|UCS-2|mixed)"] * len(POLICIES)) + r"\)$")
BUNDLED_LOCALES = ("en", "ar", "fr", "pt", "sw")


def test_lessons_check_on_the_bundled_course(tmp_path):
    result = run("lessons", "check", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "start-freelancing (FREELANCE): 6 lessons, locales en, ar, fr, pt, sw"
    assert f"(policy: {' / '.join(POLICIES)})" in lines[1]
    assert lines[-1] == "ok: no problems"

    course = load_courses(lessons_dir())[0][0]
    costs, encodings = {}, {}
    for line in lines:
        match = COST_RE.match(line)
        if match and match.group(2) != "total":
            locale, lesson_id, *numbers = match.groups()
            costs[(locale, lesson_id)] = dict(zip(POLICIES, map(int, numbers[:len(POLICIES)]),
                                                  strict=True))
            encodings[(locale, lesson_id)] = dict(zip(POLICIES, numbers[len(POLICIES):],
                                                      strict=True))
    assert set(costs) == {(loc, lesson) for loc in BUNDLED_LOCALES
                          for lesson in course.lesson_ids}
    for (locale, _), encoding in encodings.items():
        # Arabic is UCS-2 whatever the policy; gsm7 and the default, auto, make the bundled
        # Latin-script lessons GSM-7.
        if locale == "ar":
            assert set(encoding.values()) == {"UCS-2"}
        else:
            assert encoding["gsm7"] == encoding["auto"] == "GSM-7"
        if locale == "en":
            assert set(encoding.values()) == {"GSM-7"}
    for (locale, lesson_id), cost in costs.items():
        # A lesson is at least one SMS per card SMS sends plus one per question.
        lesson = next(x for x in course.lessons[locale] if x.id == lesson_id)
        sent = [card for card in lesson.edition(SMS).cards if card.text]
        assert cost["exact"] >= len(sent) + len(lesson.questions)
        assert cost["gsm7"] <= cost["smart"] <= cost["exact"], (locale, lesson_id)
        assert cost["auto"] == cost["gsm7"], (locale, lesson_id)
        if locale == "fr":
            # French accents force UCS-2 as written; folding them saves segments.
            assert cost["gsm7"] < cost["exact"], lesson_id
    total_re = re.compile(r"^  (\w+) total: " + " / ".join([r"(\d+)"] * len(POLICIES)) + "$")
    totals = {m.group(1): m for m in map(total_re.match, lines) if m}
    for locale in BUNDLED_LOCALES:
        expected = sum(costs[(locale, x)]["exact"] for x in course.lesson_ids)
        assert int(totals[locale].group(2)) == expected


LESSON_RE = re.compile(r"^  (\w+) ([a-z0-9-]+): right (\d+), wrong once (\d+): "
                       r"(OVER budget|budget) (\d+)$")
SPLIT_RE = re.compile(r"^    split: right (\d+)\+(\d+)\+(\d+)\+(\d+); "
                      r"wrong once (\d+)\+(\d+)\+(\d+)\+(\d+)$")
# A costliest message: the card or question whose text saves a segment soonest, and the
# others it carries (the last card comes with the first question).
ITEM = r"(?:card \d+|Q\d+)"
ITEM_RE = re.compile(rf"^    ({ITEM})(?: \(sent with ({ITEM}(?:, {ITEM})*)\))?: (\d+) segments, "
                     r"(\d+) if (\d+) characters? shorter$")


def test_lessons_check_shows_what_each_lesson_costs_right_and_wrong_once(tmp_path):
    result = run("lessons", "check", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "  What a learner pays per lesson in segments, policy auto, at most 6" in lines
    assert "  segments a message (the default: no carriers file)." in lines
    course = load_courses(lessons_dir())[0][0]
    seen, listed = {}, {}
    for index, line in enumerate(lines):
        match = LESSON_RE.match(line)
        if not match:
            continue
        locale, lesson_id, right, wrong, verdict, budget = match.groups()
        split = SPLIT_RE.match(lines[index + 1])
        assert split, lines[index + 1]
        parts = list(map(int, split.groups()))
        assert sum(parts[:4]) == int(right) and sum(parts[4:]) == int(wrong)
        assert int(wrong) > int(right)
        assert int(budget) == (16 if locale == "ar" else 8)
        assert (verdict == "OVER budget") == (int(right) > int(budget))
        # The costliest messages follow: those costing more than one segment, at most
        # two, costliest first (the SMS edition's short texts leave none in some lessons).
        items = []
        for line in lines[index + 2:]:
            if not line.startswith("    "):
                break
            items.append(ITEM_RE.match(line))
            assert items[-1], line
        assert len(items) <= 2, lines[index + 2:index + 2 + len(items)]
        named = []
        for item in items:
            assert int(item.group(3)) >= 2
            assert int(item.group(4)) == int(item.group(3)) - 1
            named += [item.group(1), *(item.group(2).split(", ") if item.group(2) else ())]
        assert [int(item.group(3)) for item in items] == sorted(
            (int(item.group(3)) for item in items), reverse=True)
        # Distinct messages: no card or question is named twice.
        assert len(named) == len(set(named)), lines[index + 2:index + 2 + len(items)]
        listed[(locale, lesson_id)] = len(items)
        seen[(locale, lesson_id)] = int(right)
    assert set(seen) == {(loc, lesson) for loc in BUNDLED_LOCALES for lesson in course.lesson_ids}
    # The last card's message carries the first question: named once, as one message.
    assert any(" (sent with Q1): " in line for line in lines)
    # Arabic (UCS-2, 70 characters a segment) has two costly messages in every lesson of
    # the bundled course; the others' short texts fit one segment more often.
    assert {listed[("ar", lesson)] for lesson in course.lesson_ids} == {2}
    assert 0 in listed.values()
    # The bundled course's SMS edition keeps every lesson within its budget: no lesson
    # is flagged, and no count of lessons over budget is printed.
    assert not [line for line in lines if LESSON_RE.match(line) and "OVER" in line]
    assert not [line for line in lines if "over budget" in line]
    assert lines[-1] == "ok: no problems"


def test_the_readmes_commands_table_names_every_subcommand():
    """Each command group's subcommands (`learnline hub programs`, `learnline outbox
    failed`...) are named in the README's commands table, in a row of their group."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    rows = [line.split("` |")[0] for line in readme.splitlines()
            if line.startswith("| `learnline ")]
    missing = []
    for name, group in sorted(main.commands.items()):
        if not isinstance(group, click.Group):
            continue
        cells = " ".join(row for row in rows if row.startswith(f"| `learnline {name} "))
        missing += [f"{name} {sub}" for sub in group.commands
                    if not re.search(rf"(?<![\w-]){re.escape(sub)}(?![\w-])", cells)]
    assert missing == []


def _readme_carriers_example() -> str:
    """README.md section 2's carriers file, as a new user copies it."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n# carriers\.toml\n(.*?)```", readme, re.S)
    assert block, "README.md has no carriers.toml example"
    return block.group(1)


@pytest.mark.parametrize("carriers", ["README's Twilio example", "no carriers file"])
def test_the_bundled_course_passes_strict_check_in_every_language(tmp_path, carriers):
    """Within its SMS budget in every language, with no carriers file and under the
    README's example carrier, whose address makes the certificate's check link whole."""
    env = {}
    if carriers != "no carriers file":
        (tmp_path / "carriers.toml").write_text(_readme_carriers_example(), encoding="utf-8")
        env = {"LEARNLINE_CARRIERS": str(tmp_path / "carriers.toml"),
               "TWILIO_AUTH_TOKEN": "x" * 32}

    result = run("lessons", "check", "--strict", cwd=tmp_path, **env)

    assert result.returncode == 0, result.stdout[-1500:] + result.stderr
    paid = {m.group(1, 2): m.group(5) for m in map(LESSON_RE.match, result.stdout.splitlines())
            if m}
    assert {locale for locale, _ in paid} == set(BUNDLED_LOCALES)
    assert set(paid.values()) == {"budget"}


def test_lessons_check_strict_fails_a_lesson_over_budget(tmp_path):
    root = tmp_path / "lessons"
    write_course(root, toml="sms_budget = 3\n" + course_toml(),
                 files={"en/one.txt": VALID, "fr/one.txt": VALID})

    flagged = run("lessons", "check", str(root), cwd=tmp_path)
    strict = run("lessons", "check", "--strict", str(root), cwd=tmp_path)

    assert flagged.returncode == 0, flagged.stderr
    over = [line for line in flagged.stdout.splitlines() if LESSON_RE.match(line)]
    assert len(over) == 2 and all(line.endswith(": OVER budget 3") for line in over), over
    # The last line says what holds: no errors, and lessons over budget that --strict fails.
    assert flagged.stdout.splitlines()[-1] == \
        "ok: no errors; 2 lessons over their SMS budget (warnings; --strict fails them)"
    assert "no problems" not in flagged.stdout
    assert strict.returncode == 1
    assert "Error: 2 lesson(s) over their SMS budget" in strict.stderr
    assert "Traceback" not in strict.stderr


def test_lessons_check_ends_naming_one_lesson_over_its_budget(tmp_path):
    root = tmp_path / "lessons"
    write_course(root, toml="sms_budget = 3\n" + course_toml(locales=("en",)),
                 files={"en/one.txt": VALID})

    result = run("lessons", "check", str(root), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == \
        "ok: no errors; 1 lesson over its SMS budget (warnings; --strict fails it)"


def test_lessons_check_strict_passes_a_course_within_budget(tmp_path):
    root = tmp_path / "lessons"
    write_course(root, toml="sms_budget = 40\n" + course_toml(),
                 files={"en/one.txt": VALID, "fr/one.txt": VALID})

    result = run("lessons", "check", "--strict", str(root), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("demo (DEMO): 1 lesson, locales en, fr\n")
    lessons = [LESSON_RE.match(line) for line in result.stdout.splitlines()]
    assert [m.group(5, 6) for m in lessons if m] == [("budget", "40")] * 2
    assert "over budget" not in result.stdout
    assert result.stdout.splitlines()[-1] == "ok: no problems"


def test_lessons_check_prices_lessons_under_the_carriers_policy(tmp_path):
    carriers = tmp_path / "carriers.toml"
    carriers.write_text('[carriers.mtn]\nadapter = "console"\nsender = "Learnline"\n'
                        'encoding_policy = "gsm7"\nmax_segments = 3\n', encoding="utf-8")

    result = run("lessons", "check", cwd=tmp_path, LEARNLINE_CARRIERS=str(carriers))

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "  What a learner pays per lesson in segments, policy gsm7, at most 3" in lines
    assert "  segments a message (carriers: mtn)." in lines
    per_policy = {(m.group(1), m.group(2)): int(m.group(5)) for m in map(COST_RE.match, lines)
                  if m}
    paid = {(m.group(1), m.group(2)): int(m.group(3)) for m in map(LESSON_RE.match, lines) if m}
    assert paid[("fr", "first-clients")] == per_policy[("fr", "first-clients")]  # gsm7's
    assert "  WhatsApp messages: no carrier in the carriers file carries WhatsApp" in lines


WHATSAPP_CARRIERS = """
[carriers.wa]
adapter = "whatsapp"
encoding_policy = "exact"
phone_number_id = "106540352242922"
access_token = "EAAG-token-0123456789"
app_secret = "0123456789abcdef0123456789abcdef"
verify_token = "verify-token-0123"

[carriers.twilio-wa]
adapter = "twilio"
sender = "whatsapp:+14155238886"
encoding_policy = "exact"
account_sid = "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
auth_token = "twilio-token-0123456789"
"""


def test_lessons_check_prices_sms_by_the_carriers_that_send_sms_only(tmp_path):
    """WhatsApp carriers (Cloud API, Twilio with a whatsapp: sender) are neither named
    nor priced by in the SMS cost; with no SMS carrier the check says so, no policy."""
    carriers = tmp_path / "carriers.toml"
    carriers.write_text('[carriers.mtn]\nadapter = "console"\nencoding_policy = "gsm7"\n'
                        + WHATSAPP_CARRIERS, encoding="utf-8")
    only_whatsapp = tmp_path / "whatsapp.toml"
    only_whatsapp.write_text(WHATSAPP_CARRIERS, encoding="utf-8")

    mixed = run("lessons", "check", cwd=tmp_path, LEARNLINE_CARRIERS=str(carriers))
    whatsapp = run("lessons", "check", "--strict", cwd=tmp_path,
                   LEARNLINE_CARRIERS=str(only_whatsapp))

    assert mixed.returncode == 0, mixed.stderr
    lines = mixed.stdout.splitlines()
    assert "  What a learner pays per lesson in segments, policy gsm7, at most 6" in lines
    assert "  segments a message (carriers: mtn)." in lines
    assert not [line for line in lines if "policy exact" in line]
    assert whatsapp.returncode == 0, whatsapp.stderr
    lines = whatsapp.stdout.splitlines()
    assert "  SMS: no carrier in the carriers file sends SMS (wa, twilio-wa: WhatsApp)" in lines
    assert not [line for line in lines if "policy" in line or LESSON_RE.match(line)
                or COST_RE.match(line)]


WHATSAPP_RE = re.compile(r"^  (\w+) ([a-z0-9-]+): (\d+) / (\d+)(?:  \((\S+) / (\S+) USD\))?$")


def test_lessons_check_counts_and_prices_each_lessons_whatsapp_messages(tmp_path):
    """Each lesson's WhatsApp messages in every language, answered right and wrong once,
    at each WhatsApp carrier's price of a service message (carriers that count and price
    alike would share one table)."""
    carriers = tmp_path / "carriers.toml"
    carriers.write_text(WHATSAPP_CARRIERS.replace(
        'verify_token = "verify-token-0123"\n',
        'verify_token = "verify-token-0123"\nprice_per_whatsapp_service = 0.004\n'
        'currency = "USD"\n', 1).replace(
        'auth_token = "twilio-token-0123456789"\n',
        'auth_token = "twilio-token-0123456789"\nprice_per_whatsapp_service = 0.005\n'
        'currency = "USD"\n', 1), encoding="utf-8")

    result = run("lessons", "check", cwd=tmp_path, LEARNLINE_CARRIERS=str(carriers))

    assert result.returncode == 0, result.stderr
    heading = "  WhatsApp messages a learner receives per lesson"
    _, *tables = result.stdout.split(heading)
    assert len(tables) == 2
    course = load_courses(lessons_dir())[0][0]
    for table, carrier, price in zip(tables, ("wa", "twilio-wa"), (0.004, 0.005),
                                     strict=True):
        assert (f", right / wrong once (each a reply inside the 24-hour window; carrier "
                f"{carrier}, at {price} USD a service message)") in " ".join(table.split())
        counts = {(m[1], m[2]): m.groups()[2:]
                  for m in map(WHATSAPP_RE.match, table.splitlines()) if m}
        for locale in BUNDLED_LOCALES:
            right = wrong = 0
            for lesson in course.lessons[locale]:
                shown, again, shown_cost, again_cost = counts[(locale, lesson.id)]
                # At least a message a card and one a question; each question answered
                # wrong is asked again, in one more message.
                assert int(shown) >= len(lesson.cards) + len(lesson.questions)
                assert int(again) == int(shown) + len(lesson.questions), lesson.id
                assert float(shown_cost) == pytest.approx(int(shown) * price)
                assert float(again_cost) == pytest.approx(int(again) * price)
                right, wrong = right + int(shown), wrong + int(again)
            assert counts[(locale, "total")][:2] == (str(right), str(wrong))


def test_carriers_check_names_an_encoding_for_sms_carriers_only(tmp_path):
    carriers = tmp_path / "carriers.toml"
    carriers.write_text('[carriers.mtn]\nadapter = "console"\n' + WHATSAPP_CARRIERS,
                        encoding="utf-8")

    result = run("carriers", "check", cwd=tmp_path, LEARNLINE_CARRIERS=str(carriers))

    assert result.returncode == 0, result.stderr
    lines = {line.split(":")[0].strip(): line for line in result.stdout.splitlines()[1:]}
    assert "encoding auto" in lines["mtn"]
    assert "encoding" not in lines["wa"] and "encoding" not in lines["twilio-wa"]
    assert lines["wa"].endswith(", 10 msg/s")


def test_lessons_check_names_a_carriers_file_it_cannot_price_by(tmp_path):
    carriers = tmp_path / "carriers.toml"
    carriers.write_text('[carriers.mtn]\nadapter = "console"\nsender = "Learnline"\n'
                        'encoding_policy = "cheap"\n', encoding="utf-8")

    result = run("lessons", "check", cwd=tmp_path, LEARNLINE_CARRIERS=str(carriers))

    assert result.returncode == 1
    assert str(carriers) in result.stderr and "encoding_policy" in result.stderr
    assert "Traceback" not in result.stderr


def test_lessons_check_on_a_broken_folder(tmp_path):
    root = tmp_path / "lessons"
    folder = write_course(root, files={"en/one.txt": lesson_with_cards(2)})

    result = run("lessons", "check", str(root), cwd=tmp_path)

    assert result.returncode == 1
    assert (f"{folder / 'en' / 'one.txt'}:1: 2 cards; a lesson has 3 to 6 "
            "(a blank line separates cards)") in result.stderr.splitlines()
    assert f"1 problem(s) in {root}" in result.stderr
    assert "Traceback" not in result.stderr


def test_lessons_check_passes_with_warnings_only(tmp_path):
    root = tmp_path / "lessons"
    folder = write_course(root, toml=course_toml(lessons=("one", "two")),
                          files={"en/one.txt": VALID, "en/two.txt": VALID, "fr/one.txt": VALID})

    result = run("lessons", "check", str(root), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"{folder / 'fr' / 'two.txt'}:1: warning: lesson 'two' has no 'fr' text; "
        "learners get it in 'en'"
    ]
    assert result.stdout.splitlines()[-1] == "ok: 1 warning(s)"


THREAD = "\N{SPOOL OF THREAD}"  # two UTF-16 units, as WhatsApp counts: one character here
WHATSAPP_LESSON = (
    f"# Sewing {THREAD * 20}\n\n{THREAD * 480}\n\nCard two.\n\nCard three.\n\n## Quiz\n\n"
    "? Which thread?\n"
    f"+ {THREAD * 37}\n- Cotton\n- Silk\n- Wool\n= Because it is.\n\n"
    "? What comes first?\n"
    "+ Agree the price and the date\n- Start the work\n- Buy the fabric\n= Agree first.\n")
ARABIC_LESSON = (
    "# درس\n\nبطاقة أولى.\n\nبطاقة ثانية.\n\nبطاقة ثالثة.\n\n## Quiz\n\n"
    "? أي خيط؟\n+ اِتَّفِقْ عَلَى السِّعْرِ وَالْمَوْعِدِ\n- قطن\n- حرير\n- صوف\n"
    "= لأنه صحيح.\n\n"
    "? ماذا أولا؟\n+ هذا\n- ذاك\n- تلك\n= لأنه صحيح.\n")


def test_lessons_check_names_each_text_over_whatsapps_limits(tmp_path):
    """A card too long for a message with buttons and a list option too long for its row,
    warned at their lines with the limit, the language and by how much; options cut on
    their buttons listed per lesson, Arabic included; --strict fails on the warnings."""
    root = tmp_path / "lessons"
    folder = write_course(root, toml="sms_budget = 40\n" + course_toml(locales=("en", "ar")),
                          files={"en/one.txt": WHATSAPP_LESSON, "ar/one.txt": ARABIC_LESSON})

    result = run("lessons", "check", str(root), cwd=tmp_path)
    strict = run("lessons", "check", "--strict", str(root), cwd=tmp_path)
    verbose = run("lessons", "check", "--verbose", str(root), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    lesson = folder / "en" / "one.txt"
    assert result.stderr.splitlines() == [
        f"{lesson}:3: warning: card 1: its WhatsApp message is 1039 characters, 15 over "
        "WhatsApp's 1024 for a message with buttons (en): it goes as text, its Next button "
        "in a message of its own",
        f"{lesson}:12: warning: question 1, option A: 74 characters, 2 over WhatsApp's 72 for "
        "a list row's description (en): the list shows it cut",
    ]
    # One summary line per language; the options cut, per lesson, under --verbose only.
    lines = result.stdout.splitlines()
    assert "  en: 2 of 7 options cut; 2 texts over WhatsApp's limits (warnings above)" \
        in lines, result.stdout
    assert "  ar: 1 of 7 options cut; no text over WhatsApp's limits" in lines, result.stdout
    assert not [line for line in lines if "Q1 A+" in line]
    assert "  (--verbose lists the options cut, per lesson)" in lines
    assert verbose.returncode == 0, verbose.stderr
    detail = verbose.stdout.splitlines()
    assert "  en one: Q1 A+53, Q2 A+11" in detail, verbose.stdout
    assert "  ar one: Q1 A+18" in detail, verbose.stdout  # its marks counted, as WhatsApp does
    assert detail.index("  ar one: Q1 A+18") > detail.index(
        "  ar: 1 of 7 options cut; no text over WhatsApp's limits")
    assert max(len(line) for line in lines + detail) <= 80
    assert lines[-1] == "ok: 2 warning(s)"
    assert strict.returncode == 1
    assert strict.stderr.splitlines()[-1] == \
        "Error: 2 text(s) over WhatsApp's limits (warnings above)"
    assert "Traceback" not in strict.stderr
    # as the channel sends that card: as text, then its Next button alone
    card = CardShown("Demo en", 1, 1, f"Sewing {THREAD * 20}", 1, 3, THREAD * 480)
    text, button = render([card], "en")
    assert text.payload is None and button.body == "Reply NEXT"


def test_lessons_check_on_a_missing_folder(tmp_path):
    result = run("lessons", "check", str(tmp_path / "nope"), cwd=tmp_path)

    assert result.returncode == 1
    assert f"{tmp_path / 'nope'}:1: no such folder of courses" in result.stderr
    lesson = tmp_path / "one.txt"  # a lesson file given where its courses' folder goes
    lesson.write_text("x")
    result = run("lessons", "check", str(lesson), cwd=tmp_path)
    assert result.returncode == 1
    assert f"{lesson}:1: a file, not a folder of courses" in result.stderr
    course = tmp_path / "courses" / "sewing"  # one course's folder given for its parent
    course.mkdir(parents=True)
    (course / "course.toml").write_text('code = "SEW"\n')
    result = run("lessons", "check", str(course), cwd=tmp_path)
    assert result.returncode == 1
    assert (f"{course / 'course.toml'}:1: this is one course's folder: give the folder that "
            f"holds the course folders ({tmp_path / 'courses'})") in result.stderr
    assert "missing course.toml" not in result.stderr


@pytest.mark.parametrize(("args", "expected"), [
    (("learners", "export", "+2348030000000", "-o", "nowhere/x.json"),
     "Error: nowhere/x.json: cannot write: No such file or directory"),
    (("packs", "build", "--key", "k.pem", "-o", "nowhere/c.llpack"),
     "Error: nowhere/c.llpack: cannot write the pack: No such file or directory"),
    (("serve", "--port", "99999"), "99999 is not in the range 1<=x<=65535"),
    (("serve", "--workers", "0"), "0 is not in the range 1<=x<=64"),
])
def test_a_file_or_port_that_cannot_be_used_is_one_line_not_a_traceback(tmp_path, args,
                                                                         expected):
    assert run("packs", "keygen", "-o", "k.pem", cwd=tmp_path).returncode == 0
    (tmp_path / "learnline.db").touch()
    result = run(*args, cwd=tmp_path, LEARNLINE_DB=str(tmp_path / "learnline.db"))
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr
    assert expected in result.stderr
    assert not (tmp_path / "nowhere").exists()


# -- learnline lessons import --------------------------------------------------------------------


def _table_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("courses", "lessons")}


def test_lessons_import_then_again_unchanged(tmp_path):
    root = tmp_path / "lessons"
    write_course(root, files={"en/one.txt": VALID, "fr/one.txt": VALID})
    db = tmp_path / "learnline.db"

    first = run("lessons", "import", str(root), cwd=tmp_path, LEARNLINE_DB=str(db))
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ["demo: 2 added, 0 updated, 0 unchanged"]

    second = run("lessons", "import", str(root), cwd=tmp_path, LEARNLINE_DB=str(db))
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == ["demo: 0 added, 0 updated, 2 unchanged"]
    assert _table_counts(db) == {"courses": 1, "lessons": 2}


def test_lessons_import_of_the_bundled_course(tmp_path):
    db = tmp_path / "learnline.db"

    result = run("lessons", "import", cwd=tmp_path, LEARNLINE_DB=str(db))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["start-freelancing: 30 added, 0 updated, 0 unchanged"]
    assert _table_counts(db) == {"courses": 1, "lessons": 30}


def test_lessons_import_shows_a_progress_bar_on_a_terminal(tmp_path):
    """Run under a pseudo-terminal, as an author at a shell would."""
    import pty

    environ = {k: v for k, v in os.environ.items() if not k.startswith("LEARNLINE_")}
    environ.update(LEARNLINE_DB=str(tmp_path / "learnline.db"), COLUMNS="80")
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "lessons", "import"],
                               cwd=tmp_path, env=environ, stdin=follower, stdout=follower,
                               stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the command is done
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert process.wait(60) == 0
    screen = seen.decode()
    assert "Importing 30 lesson texts" in screen
    assert "100%" in screen and "\r" in screen  # redrawn in place, up to the end
    assert "start-freelancing: 30 added, 0 updated, 0 unchanged" in screen


def test_lessons_import_of_a_broken_folder_changes_nothing(tmp_path):
    root = tmp_path / "lessons"
    write_course(root, files={"en/one.txt": VALID, "fr/one.txt": VALID})
    db = tmp_path / "learnline.db"
    assert run("lessons", "import", str(root), cwd=tmp_path, LEARNLINE_DB=str(db)).returncode == 0
    before = _table_counts(db)
    with sqlite3.connect(db) as conn:
        body_before = conn.execute("SELECT body FROM lessons ORDER BY locale").fetchall()

    # One lesson improved, one broken: all or nothing.
    (root / "demo" / "fr" / "one.txt").write_text(VALID.replace("Card one.", "Carte un."),
                                                  encoding="utf-8")
    broken = root / "demo" / "en" / "one.txt"
    broken.write_text(lesson_with_cards(7), encoding="utf-8")
    result = run("lessons", "import", str(root), cwd=tmp_path, LEARNLINE_DB=str(db))

    assert result.returncode == 1
    assert f"{broken}:1: 7 cards; a lesson has 3 to 6 (a blank line separates cards)" \
        in result.stderr.splitlines()
    assert "nothing imported" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert _table_counts(db) == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT body FROM lessons ORDER BY locale").fetchall() == body_before


def test_lessons_import_of_a_renamed_course_folder_names_the_code_taken(tmp_path):
    root = tmp_path / "lessons"
    write_course(root, files={"en/one.txt": VALID})
    db = tmp_path / "learnline.db"
    assert run("lessons", "import", str(root), cwd=tmp_path, LEARNLINE_DB=str(db)).returncode == 0
    before = _table_counts(db)
    (root / "demo").rename(root / "demo-course")

    result = run("lessons", "import", str(root), cwd=tmp_path, LEARNLINE_DB=str(db))

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: nothing imported: course demo-course has code DEMO, which course demo already "
        "uses on this gateway; give one of them another code")
    assert "Traceback" not in result.stderr
    assert _table_counts(db) == before


# -- a bad carriers file ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "carrier", "key"),
    [
        pytest.param('[carriers.acme]\nadapter = "smoke-signals"\nsender = "Learnline"\n',
                     "acme", "adapter", id="unknown-adapter"),
        pytest.param('[carriers.console]\nadapter = "console"\nsender = "x"\ncountry = "XX"\n',
                     "console", "country", id="bad-country"),
        pytest.param('[carriers.console]\nadapter = "console"\nsender = "x"\ncolour = "red"\n',
                     "console", "colour", id="unknown-key"),
    ],
)
def test_worker_refuses_a_bad_carriers_file(tmp_path, toml, carrier, key):
    carriers = tmp_path / "carriers.toml"
    carriers.write_text(toml, encoding="utf-8")
    db = tmp_path / "learnline.db"

    result = run("worker", "--drain", cwd=tmp_path, LEARNLINE_DB=str(db),
                 LEARNLINE_CARRIERS=str(carriers))

    assert result.returncode != 0
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert str(carriers) in line
    assert f"carrier '{carrier}'" in line
    assert f"key '{key}'" in line
    assert "Traceback" not in result.stderr


def test_carriers_check_tells_every_mistake_at_once(tmp_path):
    carriers = tmp_path / "carriers.toml"
    carriers.write_text('[carriers.console]\nadapter = "console"\nsendr = "Learnline"\n'
                        'tsp = 5\n\n[carriers.local]\nadapter = "console"\ncountry = "XX"\n',
                        encoding="utf-8")

    result = run("carriers", "check", cwd=tmp_path, LEARNLINE_CARRIERS=str(carriers))

    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert [line.split(" (allowed:")[0] for line in lines] == [
        f"{carriers}: carrier 'console': key 'sendr': unknown key for adapter 'console'; "
        "did you mean 'sender'?",
        f"{carriers}: carrier 'console': key 'tsp': unknown key for adapter 'console'; "
        "did you mean 'tps'?",
        f"{carriers}: carrier 'local': key 'country': 'XX' is not an ISO 3166 country code "
        'such as "SN"',
        "Error: 3 problems in the carriers file (above)",
    ]


def test_worker_drains_with_the_default_console_carrier(tmp_path):
    db = tmp_path / "learnline.db"

    result = run("worker", "--drain", cwd=tmp_path, LEARNLINE_DB=str(db))

    assert result.returncode == 0, result.stderr
    assert "sent 0, retry later 0, failed 0" in result.stdout
    assert _table_counts(db)["courses"] == 1  # the bundled course, imported on first start


def test_chat_ussd_runs_a_menu_session_in_the_terminal(tmp_path):
    """`learnline chat --ussd`: the menu, a card, the menu again, exit, and a new dial."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "LEARNLINE_DB": str(tmp_path / "ussd.db")}
    env.pop("LEARNLINE_CARRIERS", None)
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "chat", "--ussd", "+254712345678"],
        input="1\n00\n0\n\n3\n", env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # A Kenyan number: the menus and the course are in Swahili.
    assert "Learnline\n1. Anza: Anza kujiajiri" in out
    assert "Somo 1/6, kadi 1/3\nTafuta ujuzi ambao watu hulipia" in out
    assert "Kwaheri! Piga *384*12# kuendelea ulipoishia." in out
    assert "1. Endelea: Anza kujiajiri, somo 1, kadi 1/3" in out  # the second dial
    assert "Anza kujiajiri: masomo 0/6 yamekamilika." in out
    assert "Traceback" not in result.stderr


def test_serve_on_a_port_in_use_says_so_in_one_line_before_promising_urls(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--port", str(port), "--no-worker", cwd=tmp_path,
                     LEARNLINE_DB=str(tmp_path / "l.db"))
    assert result.returncode == 1
    assert f"127.0.0.1:{port} is in use by another program" in result.stderr
    assert "lite web" not in result.stdout and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
