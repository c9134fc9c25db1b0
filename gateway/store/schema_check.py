"""Is a database's schema the one this version of Learnline expects?

The expected schema is what a new database gets from every migration in
gateway/store/schema.py, built once per process in memory; a live database is compared
with it table by table (columns: name, type, NOT NULL, default, primary key), index by
index and trigger by trigger. A migration added later needs nothing here. A database
whose migration record names migrations this version does not know was made by a newer
Learnline, and is refused rather than run by older code (no silent downgrade).
"""

from __future__ import annotations

import functools
import re
import sqlite3
from dataclasses import dataclass

from sqlite_utils import Database

from gateway.store.schema import migrations
from gateway.version import VERSION

# The record of applied migrations is sqlite-utils' own table; its layout has changed
# between sqlite-utils versions (sqlite-utils converts it when it migrates).
_MIGRATIONS_TABLE = "_sqlite_migrations"


class SchemaError(Exception):
    """The database cannot be used by this version of Learnline; the message says why and
    what to do, in one line."""


@dataclass(frozen=True)
class Shape:
    """A schema as compared: columns per table, and each index's and trigger's SQL."""

    tables: dict[str, dict[str, tuple]]
    indexes: dict[str, tuple[str, str]]
    triggers: dict[str, tuple[str, str]]


def _normalized(sql: str) -> str:
    sql = re.sub(r"\s+", " ", sql).strip()
    return re.sub(r"\s*([(),])\s*", r"\1", sql).replace('"', "")


def shape_of(conn: sqlite3.Connection) -> Shape:
    """The schema of the database on `conn` (SQLite's own objects and the migration
    record left out)."""
    tables: dict[str, dict[str, tuple]] = {}
    indexes: dict[str, tuple[str, str]] = {}
    triggers: dict[str, tuple[str, str]] = {}
    ours = "name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND tbl_name != ?"
    # Every table's columns in one statement (a PRAGMA per table costs far more).
    for table, column, kind, not_null, default, pk in conn.execute(
            "SELECT m.name, c.name, c.type, c.\"notnull\", c.dflt_value, c.pk "
            "FROM sqlite_master AS m, pragma_table_info(m.name) AS c "
            f"WHERE m.type = 'table' AND m.{ours}", [_MIGRATIONS_TABLE]).fetchall():
        tables.setdefault(table, {})[column] = ((kind or "").upper(), bool(not_null), default,
                                                pk)
    rows = conn.execute(f"SELECT type, name, tbl_name, sql FROM sqlite_master WHERE {ours}",
                        [_MIGRATIONS_TABLE]).fetchall()
    for kind, name, table, sql in rows:
        if kind == "table":
            tables.setdefault(name, {})
        elif kind == "index" and sql:
            indexes[name] = (table, _normalized(sql))
        elif kind == "trigger":
            triggers[name] = (table, _normalized(sql))
    return Shape(tables, indexes, triggers)


@functools.cache
def expected_shape() -> Shape:
    """The schema a new database gets from every migration this version has."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrations.apply(Database(conn))
        return shape_of(conn)
    finally:
        conn.close()


def _column(spec: tuple) -> str:
    kind, not_null, default, pk = spec
    return " ".join(part for part in (
        kind or "(no type)", "NOT NULL" if not_null else "",
        f"DEFAULT {default}" if default is not None else "",
        "PRIMARY KEY" if pk else "") if part)


def differences(conn: sqlite3.Connection) -> list[str]:
    """What the database on `conn` lacks or has otherwise than this version expects, one
    short phrase each ([] when it matches). Tables, columns, indexes and triggers of its
    own that this version does not have are not differences."""
    expected, actual = expected_shape(), shape_of(conn)
    found: list[str] = []
    for table, columns in expected.tables.items():
        have = actual.tables.get(table)
        if have is None:
            found.append(f"table {table} missing")
            continue
        for column, spec in columns.items():
            if column not in have:
                found.append(f"column {table}.{column} missing")
            elif have[column] != spec:
                found.append(f"column {table}.{column} is {_column(have[column])}, "
                             f"expected {_column(spec)}")
    for kind, wanted, present in (("index", expected.indexes, actual.indexes),
                                  ("trigger", expected.triggers, actual.triggers)):
        for name, (table, sql) in wanted.items():
            if name not in present:
                found.append(f"{kind} {name} on {table} missing")
            elif present[name] != (table, sql):
                found.append(f"{kind} {name} differs")
    return found


def applied_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of this schema's migrations the database records as applied, in order."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                    [_MIGRATIONS_TABLE]).fetchone() is None:
        return []
    return [row[0] for row in conn.execute(
        f"SELECT name FROM {_MIGRATIONS_TABLE} WHERE migration_set = ? ORDER BY rowid",
        [migrations.name]).fetchall()]


@functools.cache
def _known() -> tuple[str, ...]:
    return tuple(migration.name for migration in migrations.pending(Database(memory=True)))


def known_migrations() -> list[str]:
    """Names of every migration this version has, in order."""
    return list(_known())


def newer_migrations(conn: sqlite3.Connection) -> list[str]:
    """Migrations the database has had that this version does not know: it was made or
    upgraded by a newer Learnline."""
    known = set(_known())
    return [name for name in applied_migrations(conn) if name not in known]


def refuse_newer(conn: sqlite3.Connection, where: str) -> None:
    """Raise SchemaError when the database at `where` was made by a newer Learnline, or
    holds tables of Learnline's without any record of the migrations that made them
    (migrating would fail half-way on the first table that already exists)."""
    if not applied_migrations(conn):
        ours = set(expected_shape().tables)
        found = sorted(ours & {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()})
        if found:
            raise SchemaError(
                f"{where} has Learnline's tables ({', '.join(found[:3])}...) but no record "
                f"of the migrations that made them ({_MIGRATIONS_TABLE}): it was not made "
                "by `learnline`, or the record was removed; restore a backup")
    newer = newer_migrations(conn)
    if newer:

        raise SchemaError(
            f"{where} was upgraded by a newer Learnline (it has migration {newer[-1]}, "
            f"unknown to Learnline {VERSION}): install that version again, or restore a "
            "backup taken before the upgrade (docs/operations.md, Upgrade)")


def refuse_different(conn: sqlite3.Connection, where: str) -> None:
    """Raise SchemaError when the database at `where` differs from the expected schema
    once every migration is applied."""
    found = differences(conn)
    if found:
        shown = "; ".join(found[:4]) + (f"; and {len(found) - 4} more" if len(found) > 4
                                        else "")
        raise SchemaError(
            f"{where}: the schema is not what its migrations make ({shown}): restore a "
            "backup, or compare with `learnline doctor` (docs/operations.md, Upgrade)")
