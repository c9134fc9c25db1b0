"""B4: SMS segments to deliver each bundled lesson, per language, under each encoding policy.

Uses gateway.channels.sms.cost.lesson_segments (what `learnline lessons check` prints):
the messages a learner who answers everything right receives. Target: in French, gsm7
needs at least 40% fewer segments in total than exact.

    python bench/segments.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Result


def measure() -> dict[tuple[str, str], dict[str, dict[str, int]]]:
    """(course, locale) -> lesson id -> policy -> segments."""
    from gateway.channels.sms.cost import lesson_segments
    from gateway.content import load_courses
    from gateway.paths import lessons_dir
    from gateway.sms_text import POLICIES

    courses, _ = load_courses(lessons_dir(), strict=True)
    table = {}
    for course in courses:
        for locale in course.locales:
            table[(course.id, locale)] = {
                lesson.id: {p: lesson_segments(course, lesson, n, locale, p) for p in POLICIES}
                for n, lesson in enumerate(course.lessons[locale], 1)
            }
    return table


def run() -> list[Result]:
    from gateway.sms_text import POLICIES

    table = measure()
    print("B4 SMS segments per bundled lesson (policy: " + " / ".join(POLICIES) + ")")
    totals: dict[str, dict[str, int]] = {}
    for (course, locale), lessons in table.items():
        print(f"  {course} [{locale}]")
        for lesson, costs in lessons.items():
            print(f"    {lesson:<26} " + " / ".join(f"{costs[p]:>3}" for p in POLICIES))
        total = {p: sum(c[p] for c in lessons.values()) for p in POLICIES}
        totals[locale] = {p: totals.get(locale, {}).get(p, 0) + total[p] for p in POLICIES}
        saving = 1 - total["gsm7"] / total["exact"]
        print(f"    {'total':<26} " + " / ".join(f"{total[p]:>3}" for p in POLICIES)
              + f"   (gsm7 {saving:.0%} fewer than exact)")
    results = []
    for locale, total in sorted(totals.items()):
        saving = 1 - total["gsm7"] / total["exact"]
        target = locale == "fr"
        results.append(Result(
            "B4", f"SMS segments, all lessons, {locale} (exact/smart/gsm7)",
            f"{total['exact']}/{total['smart']}/{total['gsm7']} (gsm7 {saving:.0%} fewer)",
            ">= 40% fewer (fr)" if target else "-", saving >= 0.40 if target else None))
    return results


def main() -> None:
    from bench.common import table

    print(table(run()))


if __name__ == "__main__":
    main()
