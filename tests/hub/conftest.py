"""Fixtures for the hub's store: every test runs once on SQLite and once on a real
PostgreSQL (a throwaway cluster started for the session, or $LEARNLINE_TEST_POSTGRES_URL).
A missing PostgreSQL or psycopg fails the PostgreSQL half; it never skips."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.hub.store import HubStore, open_hub_store
from tests.hub.postgres_server import (
    URL_VARIABLE,
    PostgresServer,
    PostgresUnavailable,
    with_options,
)

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a PostgreSQL database the tests may create schemas in."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("psycopg is not installed: pip install -e '.[test,hub]'", pytrace=False)
    given = os.environ.get(URL_VARIABLE, "").strip()
    if given:
        yield given
        return
    server = PostgresServer(durable=False)
    try:
        server.start()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
def hub_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty hub database of each backend: a SQLite file, or a schema of its own
    in the session's PostgreSQL (dropped afterwards)."""
    if request.param == "sqlite":
        yield str(tmp_path / "hub.db")
        return
    import psycopg

    base = request.getfixturevalue("postgres_url")
    schema = f"hub_test_{secrets.token_hex(6)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_options(base, f"-c search_path={schema}")
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def open_hub(hub_url: str) -> Iterator[Callable[..., HubStore]]:
    """Opens stores (each its own connection) on the test's hub database; closes them."""
    opened: list[HubStore] = []

    def opener(**kwargs) -> HubStore:
        store = open_hub_store(hub_url, **kwargs)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def hub(open_hub: Callable[..., HubStore]) -> HubStore:
    """A migrated store on a fresh hub database."""
    store = open_hub()
    store.migrate()
    return store
