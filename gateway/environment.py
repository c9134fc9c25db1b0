"""Learnline's environment settings: every variable the gateway reads is named once here,
with what it sets, and read through `get` (README.md and docs/ describe each for
operators; a test holds that every one is there).

The carriers file's own `${VAR}` references are the operator's names, not these: they are
expanded from `snapshot()` (gateway/config.py). deploy/gunicorn.conf.py reads the server's
shape (LEARNLINE_BIND, LEARNLINE_WEB_WORKERS...) itself, since gunicorn runs it as a file.
"""

from __future__ import annotations

import os

SETTINGS: dict[str, str] = {
    "LEARNLINE_DB": "the database file (default: learnline.db in the working folder)",
    "LEARNLINE_CARRIERS": "the carriers file (default: one console carrier)",
    "LEARNLINE_LOG_LEVEL": "how much the gateway's and gunicorn's logs say: debug, info, "
                           "warning or error (default: info)",
    "LEARNLINE_SECRET_KEY": "the key that signs the pages' cookies (default: one kept in "
                            "the database)",
    "LEARNLINE_PROGRAMS": "the programs file: the partners this gateway hosts (default: "
                          "none, docs/programs.md)",
    "LEARNLINE_PSEUDONYM_KEY": "the key learners' pseudonyms are made with, for the LRS and "
                               "exports (default: one kept in the database)",
    "LEARNLINE_PUBLIC_URL": "the gateway's public address, in the URLs it gives out that "
                            "others follow later (badges, xAPI activity ids, a "
                            "certificate's page when a carrier has no web_url)",
    "LEARNLINE_BADGE_ISSUER": "who issues the certificates' Open Badges, as 'Name <email>' "
                              "(badges are off without it or LEARNLINE_PUBLIC_URL)",
    "LEARNLINE_LRS_ENDPOINT": "the school's Learning Record Store, its xAPI base URL "
                              "(default: none, no statements sent; docs/integrations.md)",
    "LEARNLINE_LRS_USERNAME": "the user name the gateway signs in to the LRS with (Basic)",
    "LEARNLINE_LRS_PASSWORD": "the password the gateway signs in to the LRS with (Basic)",
    "LEARNLINE_XAPI_BASE_IRI": "the base of xAPI activity ids and the learners' account "
                               "home page (default: LEARNLINE_PUBLIC_URL)",
    "LEARNLINE_BADGE_SIGNING_KEY": "the PEM file of the RSA key that signs Open Badges "
                                   "(default: one made and kept in the database)",
    "LEARNLINE_ADMIN_TOKEN": "the dashboard's token; /admin is off without it",
    "LEARNLINE_METRICS_TOKEN": "the token /metrics asks of a client that is not this machine",
    "LEARNLINE_METRICS_DIR": "where the processes' metrics files live",
    "LEARNLINE_SIMULATOR": "1: the phone simulator page is on",
    "LEARNLINE_ROLE": "edge (the default) or hub",
    "LEARNLINE_TRUSTED_PROXIES": "the reverse proxies whose forwarded headers are believed",
    "LEARNLINE_PROXY_HOPS": "no longer read (start-up warns while it is set)",
    "LEARNLINE_RETENTION_DAYS": "days message texts are kept",
    "LEARNLINE_TUTOR_HOURS": "the days and hours tutors answer learners' questions in "
                             "(default: Mon-Fri 08-17, in each learner's zone)",
    "LEARNLINE_HUB_URL": "the hub an edge syncs with",
    "LEARNLINE_EDGE_ID": "this edge's id",
    "LEARNLINE_EDGE_TOKEN": "this edge's token at the hub",
    "LEARNLINE_SYNC_SECONDS": "seconds between sync rounds",
    "LEARNLINE_HUB_DB": "a hub's SQLite database",
    "LEARNLINE_HUB_DATABASE_URL": "a hub's PostgreSQL database",
    "LEARNLINE_TRUSTED_PACK_KEYS": "the public keys course packs must be signed with",
    "LEARNLINE_PACK_SIGNING_KEY": "the hub's private key for signing packs",
    "PROMETHEUS_MULTIPROC_DIR": "prometheus-client's folder of metrics files (set by serve)",
    "RUNTIME_DIRECTORY": "systemd's RuntimeDirectory=, where serve keeps metrics",
}


def get(name: str, default: str | None = None) -> str | None:
    """The value of the environment setting `name` as set (`default` when unset). KeyError
    for a name that is not in SETTINGS: every setting the gateway reads is named there."""
    if name not in SETTINGS:
        raise KeyError(f"{name} is not one of Learnline's environment settings")
    return os.environ.get(name, default)


def export(name: str, value: str) -> None:
    """Set `name` for this process and the processes it starts (serve's worker)."""
    if name not in SETTINGS:
        raise KeyError(f"{name} is not one of Learnline's environment settings")
    os.environ[name] = value


def snapshot() -> dict[str, str]:
    """The whole environment as it is now, for what expands the operator's own variables
    (the carriers file's `${VAR}`) or reports on them (doctor)."""
    return dict(os.environ)
