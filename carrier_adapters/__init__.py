"""Carrier adapters: each knows one carrier's wire format, and nothing else.

`base` holds the contract and the normalized types; `gsm0338` the SMS alphabet; `registry`
names the adapters a carrier configuration can use. The names below are loaded on first
use: importing the alphabet (as the gateway's SMS text rules do) loads neither the
contract's HTTP client nor the adapters and the carriers' SDKs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from carrier_adapters.base import (
        CarrierAdapter,
        CarrierSettings,
        InboundMessage,
        Notification,
        PayloadError,
        SendError,
        SendResult,
        StatusUpdate,
        Unsupported,
        UssdRequest,
        WebRequest,
        WebResponse,
    )
    from carrier_adapters.registry import ADAPTERS, adapter_class

_WHERE = {
    **dict.fromkeys(("CarrierAdapter", "CarrierSettings", "InboundMessage", "Notification",
                     "PayloadError", "SendError", "SendResult", "StatusUpdate", "Unsupported",
                     "UssdRequest", "WebRequest", "WebResponse"), "carrier_adapters.base"),
    "ADAPTERS": "carrier_adapters.registry",
    "adapter_class": "carrier_adapters.registry",
}

__all__ = [
    "ADAPTERS",
    "CarrierAdapter",
    "CarrierSettings",
    "InboundMessage",
    "Notification",
    "PayloadError",
    "SendError",
    "SendResult",
    "StatusUpdate",
    "Unsupported",
    "UssdRequest",
    "WebRequest",
    "WebResponse",
    "adapter_class",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'carrier_adapters' has no attribute {name!r}")
