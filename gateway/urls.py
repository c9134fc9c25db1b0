"""The webhook URLs a carrier calls, as Learnline publishes them."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from gateway import environment
from gateway.config import Carrier


def webhook_path(carrier_id: str, kind: str) -> str:
    """The path of a carrier's webhook: kind is 'sms' (inbound) or 'status'."""
    return f"/carriers/{carrier_id}/{kind}"


def webhook_url(carrier: Carrier, kind: str, base_url: str | None = None) -> str | None:
    """The full URL for a carrier's webhook, with its token; None without a base URL."""
    base = carrier.public_url or base_url
    if not base:
        return None
    url = base.rstrip("/") + webhook_path(carrier.id, kind)
    if carrier.webhook_token:
        url += "?" + urlencode({"token": carrier.webhook_token})
    return url


def web_url(carrier: Carrier) -> str | None:
    """Where this carrier's learners reach the lite web pages: the carrier's `web_url`,
    else its `public_url` (the gateway's address the carrier calls, which serves the pages
    too); None when the gateway knows neither."""
    return carrier.web_url or carrier.public_url or None


def gateway_url() -> str | None:
    """The gateway's own public address, `LEARNLINE_PUBLIC_URL`, without a final slash;
    None when it is unset or not an http(s) address."""
    url = (environment.get("LEARNLINE_PUBLIC_URL") or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url


def lesson_link_path(token: str) -> str:
    """The path of a lesson link (docs/web.md, Lessons by link): the token travels in the
    query string, which access logs leave out."""
    return "/l?k=" + token
