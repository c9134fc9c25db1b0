"""Course packs: size of the bundled course's pack, time to build it, and time to verify
and install it (gateway/sync/packs.py).

Prints the payload's canonical JSON size against gzip -9 and brotli 11 (the pack's
compression), the pack file's size, and medians of 5 runs of: building the pack;
verifying it alone; verifying and installing it on a fresh database (the edge's first
pack); the same pack again (a no-op); and a newer pack that removes a lesson, installed
under 10,000 learners enrolled mid-course (whose places are moved by lesson id, inside
the write transaction).

    python bench/packs.py
"""

from __future__ import annotations

import gzip
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.paths import lessons_dir
from gateway.store import Store
from gateway.sync import packs

RUNS = 5
LEARNERS = 10_000


def median_ms(work, setup=lambda: None) -> float:
    """Median wall time of `work(setup())` over RUNS runs, in milliseconds."""
    times = []
    for _ in range(RUNS):
        prepared = setup()
        started = time.perf_counter()
        work(prepared)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def fresh_store(folder: Path, name: str) -> Store:
    return Store.open(folder / f"{name}.db", migrate=True)


def enroll(store: Store, count: int) -> None:
    """`count` learners, each somewhere in lessons 2 to 5 of the bundled course."""
    now = time.time()
    with store.write():
        store.db.conn.executemany(
            "INSERT INTO learners (phone, locale, carrier_id, created_at, updated_at) "
            "VALUES (?, 'en', 'console', ?, ?)",
            [(f"+23480{n:08d}", now, now) for n in range(count)])
        store.db.conn.executemany(
            "INSERT INTO enrollments (phone, course_id, position, card, started_at, "
            "updated_at) VALUES (?, 'start-freelancing', ?, 1, ?, ?)",
            [(f"+23480{n:08d}", 1 + n % 4, now, now) for n in range(count)])


def main() -> None:
    key = packs.generate_key()
    trusted = [packs.public_key_bytes(key)]
    root = lessons_dir()
    document = packs.pack_document(root)
    raw = packs._canonical(document)
    data = packs.build_pack(root, key, version=1)
    pack = packs.read_pack(data)
    print(f"bundled course ({len(list(root.glob('*/*/*.txt')))} lesson texts, "
          f"{sum(p.stat().st_size for p in root.glob('*/**/*') if p.is_file()):,} bytes "
          "authored)")
    print(f"  payload JSON:  {len(raw):>7,} bytes (SMS renditions included)")
    print(f"  gzip -9:       {len(gzip.compress(raw, 9, mtime=0)):>7,} bytes")
    print(f"  brotli 11:     {len(pack.payload):>7,} bytes (the pack's payload)")
    print(f"  pack file:     {pack.size:>7,} bytes (with the header and signature)")

    print(f"medians of {RUNS} runs:")
    print(f"  build (parse, render SMS, compress, sign): "
          f"{median_ms(lambda _: packs.build_pack(root, key, version=1)):7.1f} ms")
    print(f"  verify only (digest and signature):        "
          f"{median_ms(lambda _: packs.verify_pack(data, trusted)):7.1f} ms")

    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        counter = iter(range(1000))

        def new_store() -> Store:
            return fresh_store(base, f"fresh{next(counter)}")

        def install(store: Store) -> None:
            report = packs.install_pack(store, data, trusted)
            assert report.installed
            store.close()

        print(f"  verify + install on a fresh database:      "
              f"{median_ms(install, new_store):7.1f} ms")

        installed = fresh_store(base, "installed")
        packs.install_pack(installed, data, trusted)
        print(f"  the same pack again (no-op):               "
              f"{median_ms(lambda _: packs.install_pack(installed, data, trusted)):7.1f} ms")

        edited = base / "lessons"
        shutil.copytree(root, edited)
        course = edited / "start-freelancing"
        toml = (course / "course.toml").read_text(encoding="utf-8")
        (course / "course.toml").write_text(toml.replace('    "set-your-price",\n', ""),
                                            encoding="utf-8")
        for locale in ("en", "fr"):
            (course / locale / "set-your-price.txt").unlink()
        newer = packs.build_pack(edited, key, version=2)

        def populated() -> Store:
            store = new_store()
            packs.install_pack(store, data, trusted)
            enroll(store, LEARNERS)
            return store

        def update(store: Store) -> None:
            assert packs.install_pack(store, newer, trusted).installed
            store.close()

        print(f"  a newer pack removing a lesson, under {LEARNERS:,} learners mid-course:\n"
              f"                                             "
              f"{median_ms(update, populated):7.1f} ms")


if __name__ == "__main__":
    main()
