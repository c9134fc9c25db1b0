"""The loopback Twilio Messages API of `twilio_api.py`, quiet when the client hangs up.

A sender that times out closes its connection while the fake is still
holding the request; answering then raises BrokenPipeError in the server
thread, which socketserver prints as a traceback. This subclass ignores that one
case (the client is gone on purpose) and reports every other server error.
"""

from __future__ import annotations

import socketserver
import sys

from tests.fakes.twilio_api import FakeTwilioApi


class HangupTolerantTwilioApi(FakeTwilioApi):
    """FakeTwilioApi for tests whose client gives up before the answer."""

    def __init__(self, account_sid: str, auth_token: str):
        super().__init__(account_sid, auth_token)
        self._server.handle_error = self._handle_error

    def _handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        socketserver.BaseServer.handle_error(self._server, request, client_address)
