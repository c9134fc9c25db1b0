"""Carrier adapters: each knows one carrier's wire format, and nothing else.

`base` holds the contract and the normalized types; `registry` names the
adapters a carrier configuration can use.
"""

from carrier_adapters.base import (
    CarrierAdapter,
    CarrierSettings,
    InboundMessage,
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

__all__ = [
    "ADAPTERS",
    "CarrierAdapter",
    "CarrierSettings",
    "InboundMessage",
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
