"""B8: lesson import time through `learnline lessons import DIR` (a subprocess, timed
end to end, so Python's start-up is included), each on a fresh database:

- the bundled course (lessons/);
- a generated course of `--lessons` lessons (default 500; 3 cards and 2 questions each,
  in the authored format of docs/authoring.md), written to a temporary folder; then the
  same import again (nothing changed).

Also reports whether the command shows progress while it works (it runs under a
pseudo-terminal, as at a shell).

    python bench/imports.py [--lessons 500] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, Result, median


def write_course(root: Path, lessons: int) -> Path:
    """A valid course of `lessons` English lessons under root/bench-big."""
    folder = root / "bench-big"
    (folder / "en").mkdir(parents=True)
    ids = [f"lesson-{n:04d}" for n in range(1, lessons + 1)]
    (folder / "course.toml").write_text(
        'code = "BENCHBIG"\ndefault_locale = "en"\npass_mark = 70\nlessons = [\n'
        + "".join(f'    "{i}",\n' for i in ids)
        + ']\n\n[title]\nen = "A long generated course"\n\n'
        '[summary]\nen = "Generated for the import benchmark."\n')
    for n, lesson in enumerate(ids, 1):
        cards = "\n\n".join(
            f"Card {c} of lesson {n}. A good freelance skill is one people already pay "
            f"for near you. Look around your street: who gets paid every week? Start from "
            f"what you see being bought, and write down what it costs." for c in (1, 2, 3))
        (folder / "en" / f"{lesson}.txt").write_text(
            f"// Generated lesson {n}.\n# Generated lesson number {n}\n\n{cards}\n\n## Quiz\n\n"
            f"? Which skill is the best first bet in lesson {n}?\n"
            "- One you plan to learn later\n+ One people near you pay weekly\n"
            "- One nobody in your area offers\n= Start where money already changes hands.\n\n"
            "? How can you test a skill before spending money on it?\n"
            "+ Do a few small jobs for pay\n- Buy all the equipment first\n"
            "= Small real jobs show if people pay and come back.\n")
    return root


def time_import(directory: Path, db: Path) -> tuple[float, str]:
    """Seconds taken and what the command showed, run under a pseudo-terminal (as an
    author at a shell runs it, so a progress bar shows if there is one)."""
    import pty

    env = {**os.environ, "LEARNLINE_DB": str(db), "COLUMNS": "80"}
    leader, follower = pty.openpty()
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "lessons", "import",
                                str(directory)], env=env, cwd=db.parent, stdin=follower,
                               stdout=follower, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the command
            break
        if not chunk:
            break
        seen += chunk
    returncode = process.wait(600)
    wall = time.perf_counter() - start
    os.close(leader)
    output = seen.decode(errors="replace")
    if returncode:
        raise RuntimeError(f"lessons import failed: {output}")
    return wall, output


def run(*, lessons: int = 500, runs: int = 3) -> list[Result]:
    from gateway.paths import lessons_dir

    bundled, big, again = [], [], []
    output = ""
    with tempfile.TemporaryDirectory(prefix="learnline-import-") as folder:
        root = write_course(Path(folder) / "lessons", lessons)
        for n in range(runs):
            bundled.append(time_import(lessons_dir(), Path(folder) / f"bundled-{n}.db")[0])
            db = Path(folder) / f"big-{n}.db"
            wall, output = time_import(root, db)
            big.append(wall)
            again.append(time_import(root, db)[0])
    frames = [line for line in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output).split("\r")
              if line.strip()]
    bar = [line for line in frames if "%" in line]
    shown = [line.strip() for line in frames if "%" not in line] + bar[-1:]
    progress = len(bar) > 1
    print(f"B8 learnline lessons import (wall, incl. interpreter start), {runs} runs")
    for label, values in (("bundled course", bundled), (f"{lessons}-lesson course", big),
                          (f"{lessons}-lesson course again (unchanged)", again)):
        print(f"  {label:<38} " + " ".join(f"{v:6.2f}" for v in values)
              + f"   median {median(values):.2f} s")
    print(f"  output of the {lessons}-lesson import: {shown} (the bar drawn {len(bar)} times)")
    print(f"  progress shown while importing: {'yes' if progress else 'no'}")
    return [
        Result("B8", "import bundled course (fresh DB)", f"{median(bundled):.2f} s", "(report)",
               None),
        Result("B8", f"import {lessons}-lesson course (fresh DB; again)",
               f"{median(big):.2f} s; {median(again):.2f} s", "(report)", None),
        Result("B8", "progress bar during a long import", "yes" if progress else "no (none)",
               "(report)", None),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from bench.common import table

    print(table(run(lessons=args.lessons, runs=args.runs)))


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
