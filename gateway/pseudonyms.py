"""Pseudonymous learner ids for what leaves the gateway: xAPI actors sent to a school's
Learning Record Store and the rows of research exports (docs/integrations.md).

A pseudonym is a keyed hash (HMAC-SHA256) of the learner's E.164 number: the same number
always gives the same pseudonym under one key, and without the key nobody can go from a
pseudonym back to a number, even by hashing every number of a country. The key stays on the
gateway: `LEARNLINE_PSEUDONYM_KEY` (the same on every edge and the hub, so one learner is one
pseudonym everywhere), else one random key made on first use and kept in the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from gateway import environment

if TYPE_CHECKING:
    from gateway.store.store import Store

KEY_ENV = "LEARNLINE_PSEUDONYM_KEY"
KEY_SETTING = "pseudonym_key"
MIN_KEY_LENGTH = 32
PSEUDONYM_LENGTH = 32  # hex digits: 128 bits, no collision among any country's numbers


def pseudonym(key: str, learner: str) -> str:
    """The learner's pseudonym under `key`: 32 lower-case hex digits, the same for the same
    number and key, telling nothing of the number without the key."""
    digest = hmac.new(key.encode("utf-8"), learner.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:PSEUDONYM_LENGTH]


def key_problem(value: str) -> str | None:
    """What is wrong with `value` as `$LEARNLINE_PSEUDONYM_KEY` (None: nothing, or unset):
    shorter than 32 characters, a key could be guessed, and every pseudonym with it."""
    if value and len(value) < MIN_KEY_LENGTH:
        return (f"{KEY_ENV} has {len(value)} characters: use at least {MIN_KEY_LENGTH} (for "
                "example `openssl rand -hex 32`)")
    return None


def configured_key() -> str | None:
    """`$LEARNLINE_PSEUDONYM_KEY` if set; ValueError naming the variable if it is shorter
    than 32 characters (key_problem)."""
    value = environment.get(KEY_ENV, "") or ""
    problem = key_problem(value)
    if problem:
        raise ValueError(problem)
    return value or None


def gateway_key(store: Store) -> str:
    """The key pseudonyms are made with on this gateway: `$LEARNLINE_PSEUDONYM_KEY`, else a
    random key made once and kept in the database (shared by every process)."""
    return configured_key() or store.setting(KEY_SETTING, lambda: secrets.token_hex(32))
