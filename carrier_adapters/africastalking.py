"""Africa's Talking: USSD sessions (form POST, `CON `/`END ` plain-text replies).

Africa's Talking signs nothing: its routes are protected by the carrier's
`webhook_token` and/or `allow_ips` (the configuration requires one of them).
"""

from __future__ import annotations

from typing import ClassVar

from carrier_adapters.base import (
    CarrierAdapter,
    PayloadError,
    UssdRequest,
    WebRequest,
    WebResponse,
)


class AfricasTalkingAdapter(CarrierAdapter):
    """Africa's Talking's USSD callback."""

    name: ClassVar[str] = "africastalking"
    optional_keys: ClassVar[tuple[str, ...]] = ("username", "api_key")
    secret_keys: ClassVar[tuple[str, ...]] = ("api_key",)
    sender_field: ClassVar[str] = "phoneNumber"

    def parse_ussd(self, request: WebRequest) -> UssdRequest:
        """Read sessionId, serviceCode, phoneNumber and text (every input so far, '*'-joined)."""
        session_id, service_code, phone, text = self.require(
            request, "sessionId", "serviceCode", "phoneNumber", "text"
        )
        if not session_id.strip():
            raise PayloadError("sessionId", "empty")
        return UssdRequest(
            session_id=session_id,
            sender=phone,
            service_code=service_code,
            text=text,
            is_new=text == "",
            cumulative=True,
        )

    def ussd_response(self, request: UssdRequest, screen: str, *, end: bool) -> WebResponse:
        """`CON <screen>` to continue, `END <screen>` to close, as text/plain."""
        return WebResponse(("END " if end else "CON ") + screen, 200,
                           "text/plain; charset=utf-8")
