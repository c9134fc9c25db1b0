"""Africa's Talking: SMS (form callbacks in, the messaging API out) and USSD sessions.

- Inbound SMS: form `from`, `to`, `text`, `id`, `date` (ISO 8601 or
  `YYYY-MM-DD HH:MM:SS`), `linkId` (premium messages: our reply must carry it).
- Delivery reports: form `id`, `status`, `phoneNumber`, `networkCode`, `failureReason`.
- Outbound: `POST {api_base_url}/version1/messaging`, header `apiKey`, form `username`,
  `to`, `message`, `from`, `linkId`; the answer's `SMSMessageData.Recipients[0]` gives
  the status and the `messageId`. The sandbox is used when `username` is `sandbox`.
- USSD: form `sessionId`, `serviceCode`, `phoneNumber`, `networkCode`, `text`; the
  answer is text/plain starting `CON ` (continue) or `END ` (close).

Africa's Talking signs nothing: its routes are protected by the carrier's
`webhook_token` and/or `allow_ips` (the configuration requires one of them).
"""

from __future__ import annotations

from typing import ClassVar

import requests

from carrier_adapters.base import (
    DELIVERED,
    FAILED,
    SENT,
    CarrierAdapter,
    CarrierSettings,
    InboundMessage,
    PayloadError,
    SendError,
    SendResult,
    StatusUpdate,
    UssdRequest,
    WebRequest,
    WebResponse,
)

LIVE_API = "https://api.africastalking.com"
SANDBOX_API = "https://api.sandbox.africastalking.com"
TIMEOUT_SECONDS = 15.0

# Delivery report statuses onto the outbox's states.
STATUS_MAP: dict[str, str] = {
    "Success": DELIVERED,
    "Sent": SENT,
    "Submitted": SENT,
    "Buffered": SENT,
    "Rejected": FAILED,
    "Failed": FAILED,
    "Expired": FAILED,
}
OPTED_OUT_REASONS = {"UserInBlacklist", "UserInBlackList"}

# Recipient statusCode in the send answer: 100 Processed, 101 Sent, 102 Queued are
# accepted; these are worth trying again later; every other code is final.
ACCEPTED_CODES = {100, 101, 102}
RETRY_CODES = {405, 407, 500, 501}  # InsufficientBalance, CouldNotRoute, server errors
OPTED_OUT_CODE = 406  # UserInBlacklist


class AfricasTalkingAdapter(CarrierAdapter):
    """Africa's Talking's SMS and USSD."""

    name: ClassVar[str] = "africastalking"
    optional_keys: ClassVar[tuple[str, ...]] = ("username", "api_key")
    secret_keys: ClassVar[tuple[str, ...]] = ("api_key",)
    sender_field: ClassVar[str] = "from"
    ussd_sender_field: ClassVar[str | None] = "phoneNumber"
    reply_keys: ClassVar[tuple[str, ...]] = ("linkId",)

    def __init__(self, settings: CarrierSettings):
        super().__init__(settings)
        self._session = requests.Session()

    # -- SMS ------------------------------------------------------------------------------

    def parse_inbound(self, request: WebRequest) -> InboundMessage:
        """Read `from`, `text` and `id`; keep `linkId` for the reply."""
        sender, text, message_id = self.require(request, "from", "text", "id")
        if not message_id.strip():
            raise PayloadError("id", "empty")
        link = request.field("linkId")
        return InboundMessage(message_id, sender, request.field("to") or "", text,
                              extra={"linkId": link} if link else {})

    def parse_status(self, request: WebRequest) -> StatusUpdate:
        """Read `id` and `status` (and `failureReason`)."""
        message_id, status = self.require(request, "id", "status")
        reason = request.field("failureReason") or None
        return StatusUpdate(message_id, STATUS_MAP.get(status), status, reason,
                            opted_out=reason in OPTED_OUT_REASONS)

    def _api(self) -> str:
        if self.settings.api_base_url:
            return self.settings.api_base_url.rstrip("/")
        username = self.settings.credentials.get("username")
        return SANDBOX_API if username == "sandbox" else LIVE_API

    def send(self, to: str, body: str, *, status_url: str | None = None,
             reply: dict[str, str] | None = None) -> SendResult:
        """Send through the messaging API; classify Africa's Talking's answers."""
        creds = self.settings.credentials
        if not creds.get("username") or not creds.get("api_key"):
            raise SendError("carrier has no username/api_key for SMS", retry=False)
        form = {"username": creds["username"], "to": to, "message": body}
        if self.settings.sender:
            form["from"] = self.settings.sender
        if reply and reply.get("linkId"):
            form["linkId"] = reply["linkId"]
        try:
            response = self._session.post(
                f"{self._api()}/version1/messaging", data=form, timeout=TIMEOUT_SECONDS,
                headers={"apiKey": creds["api_key"], "Accept": "application/json"},
            )
        except requests.RequestException as exc:
            raise SendError(f"network: {type(exc).__name__}", retry=True) from exc
        if response.status_code in (401, 403, 429) or response.status_code >= 500:
            raise SendError(f"HTTP {response.status_code}", retry=True,
                            code=str(response.status_code))
        if response.status_code not in (200, 201):
            raise SendError(f"HTTP {response.status_code}: {response.text[:200]}",
                            retry=False, code=str(response.status_code))
        try:
            recipient = response.json()["SMSMessageData"]["Recipients"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            raise SendError(f"unexpected answer: {response.text[:200]}", retry=False) from None
        code = int(recipient.get("statusCode", 0))
        if code in ACCEPTED_CODES and recipient.get("messageId"):
            return SendResult(str(recipient["messageId"]))
        raise SendError(f"{code} {recipient.get('status')}", retry=code in RETRY_CODES,
                        code=str(code), opted_out=code == OPTED_OUT_CODE)

    def check_credentials(self) -> str:
        """Read the account's balance (GET /version1/user): proves username and API key."""
        creds = self.settings.credentials
        if not creds.get("username") or not creds.get("api_key"):
            raise SendError("no username/api_key configured (USSD needs none)", retry=False)
        try:
            response = self._session.get(
                f"{self._api()}/version1/user", params={"username": creds["username"]},
                headers={"apiKey": creds["api_key"], "Accept": "application/json"},
                timeout=TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            raise SendError(f"network: {type(exc).__name__}", retry=True) from exc
        if response.status_code != 200:
            raise SendError(f"HTTP {response.status_code}", retry=False)
        try:
            balance = response.json()["UserData"]["balance"]
        except (ValueError, KeyError, TypeError):
            raise SendError(f"unexpected answer: {response.text[:100]}", retry=False) from None
        return f"balance {balance}"

    # -- USSD -----------------------------------------------------------------------------

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
