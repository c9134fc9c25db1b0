"""Africa's Talking: SMS (form callbacks in, the messaging API out) and USSD sessions.

- Inbound SMS: form `from`, `to`, `text`, `id`, `date` (ISO 8601 or
  `YYYY-MM-DD HH:MM:SS`), `linkId` (premium messages: our reply must carry it).
- Delivery reports: form `id`, `status`, `phoneNumber`, `networkCode`, `failureReason`.
- Outbound: `POST {api_base_url}/version1/messaging`, header `apiKey`, form `username`,
  `to`, `message`, `from`, `linkId`; the answer's `SMSMessageData.Recipients[0]` gives
  the status and the `messageId` (judged by `statusCode`, or by `status` when the answer
  has no code). The sandbox is used when `username` is `sandbox`.
- Premium (on-demand) services (`premium = true`): every message goes as the SDK's
  `send_premium` sends it, to the content endpoint
  (`https://content.africastalking.com/version1/messaging`; the sandbox's API, or
  `api_base_url`, when set) with `bulkSMSMode=0`, the short code (`sender`) as `from`,
  the inbound message's `linkId` and the carrier's `keyword`.
- USSD: form `sessionId`, `serviceCode`, `phoneNumber`, `networkCode`, `text`; the
  answer is text/plain starting `CON ` (continue) or `END ` (close).

Africa's Talking signs nothing: its routes are protected by the carrier's
`webhook_token` and/or `allow_ips` (the configuration requires one of them).
"""

from __future__ import annotations

from typing import ClassVar

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
LIVE_CONTENT_API = "https://content.africastalking.com"
SANDBOX_API = "https://api.sandbox.africastalking.com"

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
# A recipient's `status` word onto its statusCode, for answers that carry no code.
STATUS_CODES = {
    "Processed": 100, "Success": 100, "Sent": 101, "Queued": 102, "RiskHold": 401,
    "InvalidSenderId": 402, "InvalidPhoneNumber": 403, "UnsupportedNumberType": 404,
    "InsufficientBalance": 405, "UserInBlacklist": 406, "UserInBlackList": 406,
    "CouldNotRoute": 407, "DoNotDisturbRejection": 409, "InternalServerError": 500,
    "GatewayError": 501, "RejectedByGateway": 502,
}


class AfricasTalkingAdapter(CarrierAdapter):
    """Africa's Talking's SMS and USSD."""

    name: ClassVar[str] = "africastalking"
    optional_keys: ClassVar[tuple[str, ...]] = ("username", "api_key", "premium", "keyword")
    secret_keys: ClassVar[tuple[str, ...]] = ("api_key",)
    sender_field: ClassVar[str] = "from"
    ussd_sender_field: ClassVar[str | None] = "phoneNumber"
    reply_keys: ClassVar[tuple[str, ...]] = ("linkId",)

    @classmethod
    def check_config(cls, settings: CarrierSettings) -> None:
        """`premium` is true or false; a premium carrier sends from its short code
        (`sender`), with `username` and `api_key`; `keyword`, when given, is not empty."""
        creds = settings.credentials
        premium = creds.get("premium", False)
        if not isinstance(premium, bool):
            raise ValueError("premium", "must be true or false (a premium short code?)")
        keyword = creds.get("keyword")
        if keyword is not None and (not isinstance(keyword, str) or not keyword.strip()):
            raise ValueError("keyword", "must be the premium service's keyword, a word")
        if premium:
            for key in ("username", "api_key"):
                if not creds.get(key):
                    raise KeyError(key)
            if not settings.sender:
                raise ValueError("sender", "a premium carrier sends from its short code: "
                                 "set sender")

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

    def _content_api(self) -> str:
        """Where premium messages go: the content endpoint (the SDK's `send_premium`)."""
        if self.settings.api_base_url:
            return self.settings.api_base_url.rstrip("/")
        username = self.settings.credentials.get("username")
        return SANDBOX_API if username == "sandbox" else LIVE_CONTENT_API

    def send(self, to: str, body: str, *, status_url: str | None = None,
             reply: dict[str, str] | None = None) -> SendResult:
        """Send through the messaging API; classify Africa's Talking's answers."""
        creds = self.settings.credentials
        if not creds.get("username") or not creds.get("api_key"):
            raise SendError("carrier has no username/api_key for SMS", retry=False)
        form = {"username": creds["username"], "to": to, "message": body}
        if self.settings.sender:
            form["from"] = self.settings.sender
        api = self._api()
        if creds.get("premium"):
            api = self._content_api()
            form["bulkSMSMode"] = "0"
        if reply and reply.get("linkId"):
            form["linkId"] = reply["linkId"]
        if creds.get("premium") and creds.get("keyword"):
            form["keyword"] = creds["keyword"]
        response = self.call_api(
            "POST", f"{api}/version1/messaging", data=form,
            headers={"apiKey": creds["api_key"], "Accept": "application/json"})
        status = response.status_code
        if status not in (200, 201):
            retry = self.retry_later(status)
            # A refusal worth retrying is named by its status alone.
            detail = f"HTTP {status}" if retry else f"HTTP {status}: {response.text[:200]}"
            raise self.api_error(status, detail, retry=retry, code=str(status))
        try:
            recipient = response.json()["SMSMessageData"]["Recipients"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            raise self.api_error(response.status_code,
                                 f"unexpected answer: {response.text[:200]}",
                                 retry=False) from None
        code = _status_code(recipient)
        if code in ACCEPTED_CODES and recipient.get("messageId") not in (None, "", "None"):
            return SendResult(str(recipient["messageId"]))
        raise SendError(f"{code} {recipient.get('status')}", retry=code in RETRY_CODES,
                        code=str(code), opted_out=code == OPTED_OUT_CODE)

    def check_credentials(self) -> str:
        """Read the account's balance (GET /version1/user): proves username and API key."""
        creds = self.settings.credentials
        if not creds.get("username") or not creds.get("api_key"):
            raise SendError("no username/api_key configured (USSD needs none)", retry=False)
        response = self.call_api(
            "GET", f"{self._api()}/version1/user", params={"username": creds["username"]},
            headers={"apiKey": creds["api_key"], "Accept": "application/json"})
        if response.status_code != 200:
            raise self.api_error(response.status_code, f"HTTP {response.status_code}",
                                 retry=False)
        try:
            balance = response.json()["UserData"]["balance"]
        except (ValueError, KeyError, TypeError):
            raise self.api_error(response.status_code,
                                 f"unexpected answer: {response.text[:100]}",
                                 retry=False) from None
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


def _status_code(recipient: dict) -> int:
    """The recipient's statusCode, or, in an answer without one, the code its `status`
    word stands for (0 when neither says anything known)."""
    code = recipient.get("statusCode")
    if code is not None:
        try:
            return int(code)
        except (TypeError, ValueError):
            pass
    return STATUS_CODES.get(str(recipient.get("status", "")), 0)
