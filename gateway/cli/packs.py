"""`learnline packs`: build, sign, inspect and install course packs (docs/sync.md)."""

from __future__ import annotations

import base64
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from gateway import environment
from gateway.terminal import shown

# gateway.sync.packs (cryptography, brotli) and the store are imported inside each command:
# `learnline --help` and the other commands do not pay for them.


def _fail(exc: Exception, prefix: str = "") -> click.ClickException:
    """One line for the error; content problems (path:line: message) above it. What came
    from the pack (its key id, its names) is shown escaped: a pack is not trusted yet."""
    for problem in getattr(exc, "problems", ()):
        click.echo(shown(str(problem)), err=True)
    return click.ClickException(f"{prefix}{shown(str(exc))}")


@click.group()
def packs() -> None:
    """Course packs: every course in one signed file, for edges to install.

    The hub signs packs with its Ed25519 key; an edge installs only packs
    signed by a key in LEARNLINE_TRUSTED_PACK_KEYS, and only newer ones.

    \b
    Examples:
      learnline packs keygen -o /etc/learnline/pack-signing.pem
      learnline packs build lessons/ --key /etc/learnline/pack-signing.pem
      LEARNLINE_TRUSTED_PACK_KEYS=<public key> learnline packs import 3f2a9c0d1e4b5a67.llpack
    """


@packs.command("keygen")
@click.option("-o", "--output", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the private key (PEM, created readable by its owner only).")
def keygen(output: Path) -> None:
    """Make a new Ed25519 signing key; print its public key for edges to trust.

    Refuses to overwrite an existing file. The public key (base64, 32 bytes)
    goes into each edge's LEARNLINE_TRUSTED_PACK_KEYS.

    \b
    Example:
      learnline packs keygen -o /etc/learnline/pack-signing.pem
    """
    from gateway.sync import packs as p
    key = p.generate_key()
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{output} exists; not overwriting a key") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as out:
        out.write(p.private_key_pem(key))
    public = p.public_key_bytes(key)
    click.echo(f"private key: {output} (keep it secret; mode 0600)")
    click.echo(f"key id: {p.key_id(public)}")
    click.echo("public key (put it in the edges' LEARNLINE_TRUSTED_PACK_KEYS):")
    click.echo(base64.b64encode(public).decode())


@packs.command("build")
@click.argument("directory", required=False,
                type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The pack file to write (default: <digest>.llpack, named by its content).")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
              help="The signing key (PEM from `packs keygen`); default: "
                   "$LEARNLINE_PACK_SIGNING_KEY.")
@click.option("--version", "version", type=click.IntRange(min=1),
              help="The pack's version, which must grow from pack to pack "
                   "(default: the current Unix time in seconds).")
def build(directory: Path | None, output: Path | None, key_file: Path | None,
          version: int | None) -> None:
    """Compile every course in DIRECTORY (default: the bundled lessons) into a pack.

    All locales, with the SMS messages each lesson costs, compressed and
    signed. The same content always gives the same digest, whatever the version.
    Prints the pack's size in bytes. Exits 1 (nothing written) on content errors.

    \b
    Example:
      learnline packs build lessons/ --key pack-signing.pem --version 42 -o courses.llpack
    """
    from gateway.content import ContentError
    from gateway.paths import lessons_dir
    from gateway.sync import packs as p

    key_path = key_file or environment.get(p.SIGNING_KEY_ENV)
    if not key_path:
        raise click.ClickException(f"no signing key: pass --key FILE or set {p.SIGNING_KEY_ENV}"
                                   " (make one with `learnline packs keygen`)")
    root = directory or lessons_dir()
    started = time.perf_counter()
    try:
        key = p.load_private_key(key_path)
        data = p.build_pack(root, key, version)
    except p.PackError as exc:
        raise _fail(exc) from None
    except ContentError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"no pack built: fix the problems above ({root})") from None
    seconds = time.perf_counter() - started
    pack = p.read_pack(data)
    target = output or Path(p.suggested_name(data))
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(target)  # never a half-written pack under the real name
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise click.ClickException(f"{target}: cannot write the pack: {exc.strerror}") from None
    courses = pack.document()["courses"]
    click.echo(f"wrote {target}: {pack.size:,} bytes ({pack.raw_size:,} bytes of JSON, "
               f"{pack.compression}), built in {seconds:.2f} s")
    click.echo(f"  version {pack.version}, digest {pack.digest}")
    click.echo(f"  signed by key {pack.key_id}; courses: "
               + ", ".join(course["id"] for course in courses))


@packs.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def import_(file: Path) -> None:
    """Verify a pack and install it into the database, in one transaction.

    Refuses (exit 1, nothing changed) a pack that was tampered with, is signed
    by a key not in LEARNLINE_TRUSTED_PACK_KEYS, is not newer than the one
    installed, or has content this gateway's checks reject. The same pack
    again changes nothing (exit 0). Learners' progress is kept.

    \b
    Example:
      LEARNLINE_TRUSTED_PACK_KEYS=<public key> learnline packs import 3f2a9c0d1e4b5a67.llpack
    """
    from gateway.store import Store, default_db_path
    from gateway.sync import packs as p

    data = file.read_bytes()
    try:
        trusted = p.trusted_keys_from_env()
        with Store.open(default_db_path(), migrate=True) as store:
            report = p.install_pack(store, data, trusted)
    except p.PackError as exc:
        raise _fail(exc, f"{file}: ") from None
    if not report.installed:
        click.echo(f"{file}: already installed (version {report.previous[0]}, "
                   f"digest {report.digest[:16]}); nothing changed")
        return
    before = f"version {report.previous[0]}" if report.previous else "no pack"
    click.echo(f"installed pack version {report.version} (digest {report.digest[:16]}), "
               f"replacing {before}, in {report.seconds * 1000:.0f} ms")
    for course_id, counts in report.counts.items():
        click.echo(f"  {course_id}: {counts['added']} added, {counts['updated']} updated, "
                   f"{counts['unchanged']} unchanged")
    for course_id in report.kept:
        click.echo(f"  {course_id}: not in the pack; kept as it was")


@packs.command("show")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def show(file: Path) -> None:
    """Print a pack's header and courses, and whether a trusted key signed it.

    \b
    Example:
      learnline packs show 3f2a9c0d1e4b5a67.llpack
    """
    from gateway.sync import packs as p
    data = file.read_bytes()
    try:
        pack = p.read_pack(data)
    except p.PackError as exc:
        raise _fail(exc, f"{file}: ") from None
    try:
        created = datetime.fromtimestamp(pack.created_at, UTC).strftime(
            "%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, ValueError, OSError, TypeError):  # a forged header's time
        created = shown(f"{pack.created_at!r} (no date)")
    click.echo(f"{file}: Learnline pack, format {shown(str(pack.header['format']))}")
    click.echo(f"  version: {pack.version}")
    click.echo(f"  created: {created}")
    click.echo(f"  digest: {shown(str(pack.digest))}")
    click.echo(f"  size: {pack.size:,} bytes ({pack.raw_size:,} bytes of JSON, "
               f"{pack.compression})")
    click.echo(f"  signed by key: {shown(str(pack.key_id))}")
    try:
        p.verify_pack(data, p.trusted_keys_from_env())
        verdict = "valid, by a trusted key"
    except p.PackError as exc:
        verdict = shown(str(exc))
    click.echo(f"  signature: {verdict}")
    try:
        courses = pack.document()["courses"]
    except p.PackError as exc:
        raise _fail(exc, f"{file}: ") from None
    click.echo(f"  courses: {len(courses)}")
    for course in courses:
        try:
            line = _course_line(course)
        except (AttributeError, TypeError, KeyError, ValueError):
            line = "(a course in a shape Learnline does not read: the pack is damaged)"
        click.echo(f"    {line}")


def _course_line(course: dict) -> str:
    """A pack's course in one line: id, code, lessons, locales, SMS segments. Raises
    AttributeError, TypeError, KeyError or ValueError on a course of another shape (an
    unsigned pack may hold anything)."""
    import tomllib

    files = course.get("files", {})
    try:
        meta = tomllib.loads(files.get("course.toml", ""))
    except tomllib.TOMLDecodeError:
        meta = {}
    default = meta.get("default_locale")
    # The course's default language first, then the others, as `lessons check` lists them.
    locales = sorted({name.split("/")[0] for name in files if "/" in name},
                     key=lambda locale: (locale != default, locale))
    segments = {locale: sum(int(m["segments"]["smart"]) for lesson in lessons.values()
                            for m in lesson)
                for locale, lessons in course.get("sms", {}).items()}
    return shown(f"{course.get('id')} ({meta.get('code', '?')}): "
                 f"{_lessons(len(meta.get('lessons', [])))}, locales {', '.join(locales)}; "
                 "SMS segments (smart): "
                 + ", ".join(f"{loc} {segments[loc]}" for loc in locales if loc in segments))


def _lessons(count: int) -> str:
    """'1 lesson', '6 lessons'."""
    return f"{count} lesson{'' if count == 1 else 's'}"
