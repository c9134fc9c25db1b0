"""The USSD channel: menu sessions whose screens fit a basic phone, on the same engine."""

from gateway.channels.ussd.session import Screen, handle_ussd

__all__ = ["Screen", "handle_ussd"]
