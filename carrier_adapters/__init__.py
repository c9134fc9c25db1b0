"""Carrier adapters: each knows one carrier's wire format, and nothing else.

`base` holds the contract and the normalized types; `gsm0338` the SMS alphabet; `registry`
names the adapters a carrier configuration can use. The registry (`ADAPTERS`,
`adapter_class`) is loaded on first use: the contract's types and the alphabet do not load
every adapter and the carriers' SDKs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    if name in ("ADAPTERS", "adapter_class"):
        from carrier_adapters import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'carrier_adapters' has no attribute {name!r}")
