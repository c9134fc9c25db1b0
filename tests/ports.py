"""Loopback ports for the servers tests start: never the same one twice in a test run.

Asking the kernel for a free port and closing the socket frees that port for anyone,
and the next ask may return it again: two servers of one Kannel stack once got the
same port and bearerbox stopped with "Address already in use". Every port handed out
is remembered, so no two servers started by one test run are given the same port.
"""

from __future__ import annotations

import socket

_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback TCP port free right now and not handed out before in this process."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
