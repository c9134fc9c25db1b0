"""The database a command reads: the one the gateway keeps, never a new empty file."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.store import default_db_path, files


def existing_db_path() -> Path:
    """The database file ($LEARNLINE_DB), which must exist. A command that reads what
    the gateway stored stops with one line at a mistyped path, rather than create an
    empty database there and report nothing (zeros, a copy of nothing). The line says how
    the database is made, for a new server where nothing made it yet, or, where one was
    made and is gone (its marker, gateway/store/files.py), how to restore it."""
    path = default_db_path()
    if not path.exists():
        try:  # a database was made there and is gone: that is what to say
            files.refuse_to_remake(path)
        except files.DatabaseFileError as exc:
            raise click.ClickException(str(exc)) from None
        raise click.ClickException(
            f"no database at {path} yet: start the gateway once (learnline serve) or run "
            "learnline lessons import to make it, or set LEARNLINE_DB to the gateway's "
            "database")
    return path
