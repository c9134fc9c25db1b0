"""The SMS channel: commands in, text replies out through the outbox."""

from gateway.channels.commands import parse_command
from gateway.channels.sms.conversation import handle_inbound, receive_inbound
from gateway.channels.texts import render

__all__ = ["handle_inbound", "parse_command", "receive_inbound", "render"]
