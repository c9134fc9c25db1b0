"""Hubtel Programmable Services: USSD sessions as JSON requests and responses.

Request: SessionId, ServiceCode, Type (Initiation | Response | Release |
Timeout), Message (the dialled code on Initiation, then the learner's latest
input), Mobile, Operator, Sequence, ClientState, Platform. Response: Type
(Response to continue, Release to end), Message, Label, DataType, FieldType,
ClientState. Hubtel signs nothing: `webhook_token` and/or `allow_ips` protect it.

Hubtel also sends request types a learning service does not serve (Query, Favorite):
they are read as the end of the exchange, so the answer is a valid Release screen
naming the code to dial, never an error.
"""

from __future__ import annotations

import json
from typing import ClassVar

from carrier_adapters.base import (
    CarrierAdapter,
    PayloadError,
    UssdRequest,
    WebRequest,
    WebResponse,
    read_json,
)

_TYPES = {"initiation", "response", "release", "timeout", "query", "favorite"}
# Types that end the exchange: the network's (release, timeout) and those not served.
_ENDING = {"release", "timeout", "query", "favorite"}
LABEL = "Learnline"


class HubtelAdapter(CarrierAdapter):
    """Hubtel's USSD JSON interface."""

    name: ClassVar[str] = "hubtel"
    sender_field: ClassVar[str] = "Mobile"

    def parse_ussd(self, request: WebRequest) -> UssdRequest:
        """Read the JSON request; a missing or malformed field raises PayloadError naming it."""
        data = read_json(request.body)
        if not isinstance(data, dict):
            raise PayloadError("body", message="the body is not a JSON object")
        for name in ("SessionId", "Type", "Mobile"):
            value = data.get(name)
            if value is None:
                raise PayloadError(name)
            if not isinstance(value, str | int) or not str(value).strip():
                raise PayloadError(name, "empty or invalid")
        kind = str(data["Type"]).lower()
        if kind not in _TYPES:
            raise PayloadError("Type", "unknown value in")
        message = data.get("Message")
        message = "" if message is None else str(message)
        # Hubtel writes the code bare ("713"); learners are told to dial it, so give
        # it as they dial it ("*713#"), like Africa's Talking does.
        service_code = str(data.get("ServiceCode") or "").strip()
        if service_code and not service_code.startswith("*"):
            service_code = f"*{service_code.rstrip('#')}#"
        return UssdRequest(
            session_id=str(data["SessionId"]),
            sender=str(data["Mobile"]),
            service_code=service_code,
            text="" if kind == "initiation" else message,
            is_new=kind == "initiation",
            cumulative=False,
            ended=kind in _ENDING,
            sequence=_sequence(data.get("Sequence")),
        )

    def ussd_response(self, request: UssdRequest, screen: str, *, end: bool) -> WebResponse:
        """The JSON response: Type Response (continue) or Release (end)."""
        body = {
            "SessionId": request.session_id,
            "Type": "Release" if end else "Response",
            "Message": screen,
            "Label": LABEL,
            "ClientState": "",
            "DataType": "display" if end else "input",
            "FieldType": "text",
        }
        return WebResponse(json.dumps(body, ensure_ascii=False), 200,
                           "application/json; charset=utf-8")


_LARGEST_SEQUENCE = 2**63 - 1  # what a database integer holds


def _sequence(value: object) -> int | None:
    """Hubtel's request counter, when it is a whole number a database can hold."""
    if isinstance(value, str):
        digits = value.strip()
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 19):
            return None  # more digits than any counter (Python reads at most 4,300)
        value = int(digits)
    if isinstance(value, int) and not isinstance(value, bool) \
            and -_LARGEST_SEQUENCE <= value <= _LARGEST_SEQUENCE:
        return value
    return None
