"""Every carrier adapter that sends over HTTP is a row of the shared send contract
(tests/adapters/contract.py, SendContract): its timeout, retry rules, records and
redaction are checked for each, so an adapter added to the registry without it fails
here."""

from __future__ import annotations

import importlib
import pkgutil

import tests.adapters
from carrier_adapters import ADAPTERS, CarrierAdapter
from tests.adapters.contract import SendContract

# Adapters that send without any API: the console prints to a terminal.
NO_API = {"console"}


def _send_contract_classes() -> list[type[SendContract]]:
    found = []
    for module in pkgutil.iter_modules(tests.adapters.__path__):
        if module.name.startswith("test_"):
            loaded = importlib.import_module(f"tests.adapters.{module.name}")
            found += [value for value in vars(loaded).values()
                      if isinstance(value, type) and issubclass(value, SendContract)
                      and value is not SendContract and value.__name__.startswith("Test")]
    return found


def test_every_adapter_that_sends_over_http_has_the_send_contract():
    senders = {name for name, adapter in ADAPTERS.items()
               if adapter.send is not CarrierAdapter.send and name not in NO_API}
    covered = {case.adapter_name for case in _send_contract_classes()}
    assert senders, "no adapter sends"
    assert senders <= covered, f"no SendContract test class for {sorted(senders - covered)}"
