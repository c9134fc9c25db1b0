"""B4: SMS segments a learner pays per completed bundled lesson, per language.

Measured on the real path (gateway.channels.sms.cost.CostWalker, as `learnline lessons
check`): simulated learners text the SMS channel over a scratch database, and the outbox
says what each message costs. Per language, under the default carrier's policy: a learner
who answers every question right, and one who answers each question wrong once, then
right when it comes back. Targets: at most the course's budget per lesson answered right
(8 segments; 16 in Arabic); in French, gsm7 at least 40% fewer segments than exact.

    python bench/segments.py
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Result


def measure() -> dict[str, dict]:
    """locale -> {"costs": [LessonCost] under the default policy, "policies": policy ->
    segments of all lessons answered right}."""
    from gateway.channels.sms.cost import CostWalker
    from gateway.config import DEFAULT_CONSOLE
    from gateway.content import load_courses
    from gateway.paths import lessons_dir
    from gateway.sms_text import POLICIES

    [course], _ = load_courses(lessons_dir(), strict=True)
    table = {}
    with CostWalker(course) as walker:
        for locale in course.locales:
            policies = {}
            for policy in POLICIES:
                carrier = dataclasses.replace(DEFAULT_CONSOLE, encoding_policy=policy)
                policies[policy] = sum(p.segments for p in
                                       walker.right_segments(carrier, locale).values())
            table[locale] = {"costs": walker.lesson_cost(DEFAULT_CONSOLE, locale),
                             "policies": policies}
    return table


def run() -> list[Result]:
    from gateway.config import DEFAULT_CONSOLE
    from gateway.sms_text import POLICIES

    policy = DEFAULT_CONSOLE.encoding_policy
    table = measure()
    print(f"B4 SMS segments per completed lesson, policy {policy}: right / wrong once")
    results = []
    for locale, found in table.items():
        costs = found["costs"]
        print(f"  [{locale}] budget {costs[0].budget}")
        for cost in costs:
            print(f"    {cost.lesson_id:<26} {cost.right.segments:>3} / "
                  f"{cost.wrong_once.segments:>3}")
        right = [c.right.segments for c in costs]
        wrong = [c.wrong_once.segments for c in costs]
        budget = max(c.budget for c in costs)
        results.append(Result(
            "B4", f"SMS segments per completed lesson, {locale} ({policy}: right / wrong once)",
            f"{sum(right) / len(right):.1f} / {sum(wrong) / len(wrong):.1f} "
            f"(lessons {min(right)}-{max(right)} / {min(wrong)}-{max(wrong)})",
            f"<= {budget} a lesson, right", max(right) <= budget))
    for locale, found in table.items():
        total = found["policies"]
        saving = 1 - total["gsm7"] / total["exact"]
        target = locale == "fr"
        results.append(Result(
            "B4", f"SMS segments, all lessons answered right, {locale} ("
            + "/".join(POLICIES) + ")",
            "/".join(str(total[p]) for p in POLICIES) + f" (gsm7 {saving:.0%} fewer)",
            ">= 40% fewer (fr)" if target else "-", saving >= 0.40 if target else None))
    return results


def main() -> None:
    from bench.common import table

    print(table(run()))


if __name__ == "__main__":
    main()
