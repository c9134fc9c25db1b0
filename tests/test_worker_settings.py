"""`learnline worker` and `learnline serve` refuse settings they cannot use at start-up,
with one line naming the setting and nothing started: a sync interval out of range or
not a number, half a hub configuration, an address this machine does not have."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ports import free_port
from tests.test_cli import run

HUB = {"LEARNLINE_HUB_URL": "http://127.0.0.1:9/", "LEARNLINE_EDGE_ID": "edge-a",
       "LEARNLINE_EDGE_TOKEN": "edge-token-0123456789"}


@pytest.mark.parametrize("seconds", ["3", "86401", "every minute", "nan"])
def test_a_sync_interval_out_of_range_stops_the_worker_naming_it(tmp_path: Path, seconds):
    done = run("worker", cwd=tmp_path, LEARNLINE_DB=str(tmp_path / "edge.db"),
               LEARNLINE_SYNC_SECONDS=seconds, **HUB)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"Error: LEARNLINE_SYNC_SECONDS={seconds!r}: a number of "
                                   "seconds from 5 to 86400")


@pytest.mark.parametrize(("missing", "said"), [
    (("LEARNLINE_EDGE_TOKEN",), "LEARNLINE_EDGE_TOKEN is not"),
    (("LEARNLINE_EDGE_ID", "LEARNLINE_EDGE_TOKEN"),
     "LEARNLINE_EDGE_ID and LEARNLINE_EDGE_TOKEN are not"),
])
def test_half_a_hub_configuration_stops_the_worker_naming_what_is_missing(tmp_path: Path,
                                                                         missing, said):
    env = {k: v for k, v in HUB.items() if k not in missing}
    done = run("worker", cwd=tmp_path, LEARNLINE_DB=str(tmp_path / "edge.db"), **env)
    assert done.returncode == 1
    assert done.stderr.strip() == f"Error: LEARNLINE_HUB_URL is set but {said}"


def test_serve_on_an_address_this_machine_does_not_have_says_so(tmp_path: Path):
    port = free_port()
    done = run("serve", "--host", "192.0.2.1", "--port", str(port), cwd=tmp_path,
               LEARNLINE_DB=str(tmp_path / "gateway.db"))
    assert done.returncode == 1
    assert done.stderr.strip().endswith(
        f"cannot listen on 192.0.2.1:{port}: Cannot assign requested address")
