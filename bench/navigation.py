"""What SMS navigation costs per bundled lesson: characters and segments beyond the teaching.

A lesson's messages (gateway.channels.sms.cost.lesson_messages, what `learnline lessons
check` prices: a learner answering every question right, under the default `smart` policy)
hold its teaching (card texts, the lesson's and the next lesson's titles, questions, options,
explanations) and the rest: counters, command hints, headers, verdicts, line breaks. This
prints, per lesson and language, the characters of the rest and the segments beyond those
the teaching alone costs (each turn's teaching, its replies packed where that costs no
more). Run it on any
checkout to compare two versions:

    python bench/navigation.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

POLICY = "smart"


def _teaching_turns(lesson) -> list[list[str]]:
    """The teaching of each turn of a lesson taken by SMS, one text per reply, the last card
    with the first question (the texts a lesson cannot do without)."""
    cards = [[card.text] for card in lesson.cards]
    cards[0][0] = lesson.title + "\n" + cards[0][0]
    turns = cards[:-1]
    pending = cards[-1]
    for question in lesson.questions:
        turns.append([*pending, "\n".join([question.text, *question.options])])
        pending = [question.explanation]
    turns.append(pending)
    return turns


def _cheapest(texts: list[str], count) -> int:
    """Segments of one turn's texts, adjacent ones in one message where that costs no
    more than apart."""
    total, current = 0, None
    for text in texts:
        if current is not None:
            joined = current + "\n" + text
            if count(joined, POLICY).segments <= count(current, POLICY).segments \
                    + count(text, POLICY).segments:
                current = joined
                continue
            total += count(current, POLICY).segments
        current = text
    return total + (count(current, POLICY).segments if current is not None else 0)


def measure() -> dict[str, list[tuple[str, int, int, int]]]:
    """locale -> [(lesson id, navigation characters, navigation segments, segments)]."""
    from gateway.channels.sms.cost import lesson_messages
    from gateway.content import load_courses
    from gateway.paths import lessons_dir
    from gateway.sms_text import count, normalize

    courses, _ = load_courses(lessons_dir(), strict=True)
    table: dict[str, list[tuple[str, int, int, int]]] = {}
    for course in courses:
        for locale in course.locales:
            lessons = course.lessons[locale]
            for number, lesson in enumerate(lessons, 1):
                sent = [normalize(m, POLICY) for m in lesson_messages(course, lesson, number,
                                                                        locale)]
                turns = _teaching_turns(lesson)
                if number < len(lessons):
                    turns[-1][-1] += "\n" + lessons[number].title
                teaching = [normalize(piece, POLICY) for turn in turns for piece in turn]
                alone = sum(_cheapest(turn, count) for turn in turns)
                segments = sum(count(m, POLICY).segments for m in sent)
                table.setdefault(locale, []).append(
                    (lesson.id, sum(map(len, sent)) - sum(map(len, teaching)),
                     segments - alone, segments))
    return table


def main() -> None:
    table = measure()
    print(f"SMS navigation per bundled lesson ({POLICY} policy): characters, segments "
          "beyond the teaching alone, and the lesson's segments")
    for locale, rows in table.items():
        for lesson, chars, extra, segments in rows:
            print(f"  {locale} {lesson:<24} {chars:>4} chars  {extra:>3} segments  "
                  f"(lesson {segments})")
        print(f"  {locale} {'total':<24} {sum(r[1] for r in rows):>4} chars  "
              f"{sum(r[2] for r in rows):>3} segments  (lessons {sum(r[3] for r in rows)})")


if __name__ == "__main__":
    main()
