"""Runs the IMS Open Badges validator (the `openbadges` package) offline, printing its report.

Run with the validator's own Python (tests/tools/openbadges-venv, built by `make
install-test`), never the project's: `openbadges-venv/bin/python openbadges_verify.py INPUT`,
where INPUT is an assertion's URL, a baked badge image's path (read with
`openbadges_bakery.unbake`, as the validator reads an image it fetches), or the path of a
file holding a signed assertion (a JWS, as pasted into the validator). The report is printed
as JSON on stdout.

The validator reads the Open Badges 2.0 JSON-LD context from https://w3id.org/openbadges/v2
over the network. Here it gets the copy the package itself bundles
(openbadges.verifier.openbadges_context), and any other address off this machine is refused:
the tests run without a network and talk to 127.0.0.1 only.
"""

import json
import sys
from urllib.parse import urlsplit

import requests
from openbadges.verifier import verify
from openbadges.verifier.openbadges_context import (
    OPENBADGES_CONTEXT_V2_DICT,
    OPENBADGES_CONTEXT_V2_URI,
)
from openbadges_bakery import unbake
from requests.adapters import HTTPAdapter

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_send = HTTPAdapter.send


def _offline_send(adapter, request, **kwargs):
    host = urlsplit(request.url).hostname or ""
    if host in LOOPBACK:
        return _send(adapter, request, **kwargs)
    if request.url.rstrip("/") == OPENBADGES_CONTEXT_V2_URI.rstrip("/"):
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(OPENBADGES_CONTEXT_V2_DICT).encode()
        response.headers["Content-Type"] = "application/ld+json"
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response
    raise requests.ConnectionError(f"offline: refused {request.url}")


HTTPAdapter.send = _offline_send


def main(argv):
    target = argv[1]
    if target.startswith(("http://", "https://")):
        report = verify(target, use_cache=False)
    elif target.endswith(".svg"):
        # A baked image: what the validator does with an image it fetched (its
        # process_baked_resource), on a file: the bakery reads the assertion out of it
        # (a hosted assertion's address, or a signed assertion's JWS).
        with open(target, "rb") as image:
            baked = unbake(image)
        if isinstance(baked, bytes):
            baked = baked.decode("utf-8")
        report = verify(baked, use_cache=False)
    else:
        with open(target, encoding="ascii") as signed:
            report = verify(signed.read().strip(), use_cache=False)
    json.dump(report, sys.stdout, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
