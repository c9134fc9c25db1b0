"""Learners' pseudonyms: stable under one key, different under another, never the number."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from gateway import pseudonyms
from gateway.store.store import Store


def test_a_pseudonym_is_stable_keyed_and_tells_nothing_of_the_number():
    key = "k" * 32
    first = pseudonyms.pseudonym(key, "+254700000001")
    assert first == pseudonyms.pseudonym(key, "+254700000001")
    assert first != pseudonyms.pseudonym(key, "+254700000002")
    assert first != pseudonyms.pseudonym("j" * 32, "+254700000001")
    # As docs/integrations.md says, so an evaluator holding the key can recompute it.
    assert first == hmac.new(key.encode(), b"+254700000001", hashlib.sha256).hexdigest()[:32]


def test_the_configured_key_wins_and_a_short_one_is_refused(monkeypatch, tmp_path):
    store = Store.open(tmp_path / "learnline.db", migrate=True)
    made = pseudonyms.gateway_key(store)
    assert len(made) == 64 and pseudonyms.gateway_key(store) == made  # kept in the database
    monkeypatch.setenv("LEARNLINE_PSEUDONYM_KEY", "x" * 40)
    assert pseudonyms.gateway_key(store) == "x" * 40
    monkeypatch.setenv("LEARNLINE_PSEUDONYM_KEY", "short")
    with pytest.raises(ValueError, match="LEARNLINE_PSEUDONYM_KEY has 5 characters"):
        pseudonyms.gateway_key(store)
