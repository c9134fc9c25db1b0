"""The one place that names every carrier adapter a configuration can use."""

from __future__ import annotations

from carrier_adapters.africastalking import AfricasTalkingAdapter
from carrier_adapters.base import CarrierAdapter
from carrier_adapters.console import ConsoleAdapter
from carrier_adapters.http import HttpAdapter
from carrier_adapters.hubtel import HubtelAdapter
from carrier_adapters.kannel import KannelAdapter
from carrier_adapters.orange import OrangeAdapter
from carrier_adapters.twilio import TwilioAdapter
from carrier_adapters.whatsapp import WhatsAppAdapter

ADAPTERS: dict[str, type[CarrierAdapter]] = {
    adapter.name: adapter
    for adapter in (
        AfricasTalkingAdapter,
        ConsoleAdapter,
        HttpAdapter,
        HubtelAdapter,
        KannelAdapter,
        OrangeAdapter,
        TwilioAdapter,
        WhatsAppAdapter,
    )
}


def adapter_class(name: str) -> type[CarrierAdapter]:
    """The adapter class registered as `name`; KeyError when there is none."""
    return ADAPTERS[name]
