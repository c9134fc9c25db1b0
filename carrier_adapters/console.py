"""The console carrier: messages printed to a terminal, for trying Learnline locally.

Inbound form fields: `from`, `text`, and optionally `id` (the message id used
to drop repeats) and `to`. Delivery reports: `id`, `status`. It accepts
requests from loopback unless `allow_ips` or `webhook_token` say otherwise.
"""

from __future__ import annotations

import sys
import threading
import uuid
from typing import ClassVar, TextIO

from carrier_adapters.base import (
    CarrierAdapter,
    CarrierSettings,
    InboundMessage,
    PayloadError,
    SendResult,
    StatusUpdate,
    WebRequest,
)

LOOPBACK = ("127.0.0.0/8", "::1/128")
_STATUSES = {"queued", "sending", "sent", "delivered", "undelivered", "failed"}


class ConsoleAdapter(CarrierAdapter):
    """Prints outbound messages; takes inbound ones from a local form post."""

    name: ClassVar[str] = "console"

    def __init__(self, settings: CarrierSettings, output: TextIO | None = None):
        if not settings.allow_ips and settings.webhook_token is None:
            settings = CarrierSettings(**{**settings.__dict__, "allow_ips": LOOPBACK})
        super().__init__(settings)
        self.output = output
        self._lock = threading.Lock()

    def parse_inbound(self, request: WebRequest) -> InboundMessage:
        """Read `from`, `text` and the optional `id` and `to`."""
        sender, text = self.require(request, "from", "text")
        return InboundMessage(
            carrier_message_id=request.field("id") or uuid.uuid4().hex,
            sender=sender,
            recipient=request.field("to") or self.settings.sender,
            text=text,
        )

    def parse_status(self, request: WebRequest) -> StatusUpdate:
        """Read `id` and `status` (one of the normalized states)."""
        message_id, status = self.require(request, "id", "status")
        if status not in _STATUSES:
            raise PayloadError("status", "unknown value in")
        return StatusUpdate(message_id, status, status)

    def send(self, to: str, body: str, *, status_url: str | None = None) -> SendResult:
        """Print the message for `to`; always accepted."""
        out = self.output or sys.stdout
        with self._lock:
            out.write(f"\n[to {to}]\n{body}\n")
            out.flush()
        return SendResult(f"console-{uuid.uuid4().hex}")
