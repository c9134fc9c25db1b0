"""Fixtures of the lite-page browser tests: the gateway with the simulator on, served on
loopback by a real HTTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway import create_app
from tests.web.browser import serve_app


@pytest.fixture
def app(db_path, carriers_file):
    """The gateway on the test database and carriers file, with the USSD simulator."""
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                       "SECRET_KEY": "browser-tests-secret-0123456789", "SIMULATOR": True})


@pytest.fixture
def site(app) -> Iterator[str]:
    """The app's base URL on loopback while the test runs."""
    with serve_app(app) as base_url:
        yield base_url
