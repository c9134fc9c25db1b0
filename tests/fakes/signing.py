"""Test-side Twilio request signing, written from Twilio's published spec.

Independent of the twilio package on purpose: the gateway verifies with the
package, the tests sign by the spec (URL, then each POST field name and value
sorted by name, HMAC with the auth token, base64).
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def twilio_signature(token: str, url: str, params: dict[str, str],
                     algorithm: str = "HMAC_SHA1") -> str:
    """X-Twilio-Signature for a form POST to `url`."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hashlib.sha1 if algorithm == "HMAC_SHA1" else hashlib.sha256
    mac = hmac.new(token.encode(), payload.encode(), digest)
    return base64.b64encode(mac.digest()).decode()
