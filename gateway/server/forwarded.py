"""Who is asking, behind reverse proxies: forwarded headers are believed only from the
proxies named in `LEARNLINE_TRUSTED_PROXIES` (default: this machine, 127.0.0.1 and ::1,
where the shipped nginx runs).

When the connecting peer is one of them, the client is the right-most address in
`X-Forwarded-For` that is not a trusted proxy (each proxy appends the address it heard
from, so everything left of that is whatever the client chose to write), and the scheme
and host are the last `X-Forwarded-Proto` and `X-Forwarded-Host`. From any other peer
those headers are dropped unread: a caller who reaches the server's port directly is
judged by its own address, whatever it claims.

A forwarded request is never the machine's own: `is_local` is true only for a loopback
peer that forwarded nothing, so a forwarded `127.0.0.1` opens neither `/metrics` nor a
loopback-only webhook (`allow_ips_address`).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from typing import Any

from gateway import environment
from gateway.config import ConfigError

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Start = Callable[..., Any]
DEFAULT_TRUSTED = "127.0.0.1,::1"
FORWARDED = "learnline.forwarded"  # environ key: the peer was a proxy that forwarded
_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
            "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")


def trusted_proxies(raw: str | None = None) -> tuple[Network, ...]:
    """`$LEARNLINE_TRUSTED_PROXIES` (or `raw`): comma-separated addresses or networks.
    Raises ConfigError naming the first entry that is neither; empty trusts nobody."""
    if raw is None:
        raw = environment.get("LEARNLINE_TRUSTED_PROXIES", DEFAULT_TRUSTED)
    networks = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ConfigError(f"LEARNLINE_TRUSTED_PROXIES: {entry!r} is not an IP address "
                              "or network (e.g. 127.0.0.1,::1 or 10.0.0.0/24)") from None
    return tuple(networks)


def warn_if_doubtful(networks: tuple[Network, ...]) -> None:
    """Log at start-up what looks wrong in the proxy settings (`doubts`)."""
    for doubt in doubts(networks, environment.get("LEARNLINE_PROXY_HOPS", "")):
        log.warning("%s", doubt)


def doubts(networks: tuple[Network, ...], proxy_hops: str = "") -> list[str]:
    """What looks wrong in the proxy settings: trusted `networks` that are public, and a
    LEARNLINE_PROXY_HOPS (`proxy_hops`) still set, which nothing reads any more. Said at
    start-up and by `learnline doctor`."""
    found = []
    if proxy_hops.strip():
        found.append("LEARNLINE_PROXY_HOPS is no longer read: forwarded headers are trusted "
                      "from the proxies in LEARNLINE_TRUSTED_PROXIES (now "
                      f"{','.join(map(str, networks)) or 'none'}); remove it")
    public = [str(n) for n in networks if not (n.is_private or n.is_loopback)
              or n.prefixlen == 0]
    if public:
        found.append(f"LEARNLINE_TRUSTED_PROXIES trusts public addresses ({','.join(public)}): "
                     "anyone there can claim to be any client; name only your own proxies")
    return found


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _last(value: str) -> str:
    return value.split(",")[-1].strip()


class ForwardedFrom:
    """WSGI middleware: the client's address, scheme and host as the trusted proxies
    recorded them; forwarded headers from anyone else dropped."""

    def __init__(self, app: Callable[[dict, Start], Iterable[bytes]],
                 networks: tuple[Network, ...]):
        self.app = app
        self.networks = networks
        self._told = False  # whether the first untrusted forwarder was logged

    def _trusted(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return address is not None and any(address in network for network in self.networks
                                           if network.version == address.version)

    def __call__(self, environ: dict, start_response: Start) -> Iterable[bytes]:
        peer = _address(environ.get("REMOTE_ADDR", ""))
        chain = environ.get("HTTP_X_FORWARDED_FOR", "")
        if self._trusted(peer) and chain.strip():
            client = peer
            for entry in reversed(chain.split(",")):
                address = _address(entry)
                if address is None:  # a hop wrote nonsense: stop at who handed it on
                    break
                client = address
                if not self._trusted(address):
                    break
            environ[FORWARDED] = True
            environ["REMOTE_ADDR"] = str(client)
            proto = _last(environ.get("HTTP_X_FORWARDED_PROTO", "")).lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
            host = _last(environ.get("HTTP_X_FORWARDED_HOST", ""))
            if host:
                environ["HTTP_HOST"] = host
        else:
            if chain.strip() and not self._told:
                self._told = True  # once per process: a caller may send it on purpose
                log.warning("a request from %s carries X-Forwarded-For, ignored: that address "
                            "is not in LEARNLINE_TRUSTED_PROXIES; if it is your proxy, add "
                            "it, or every client behind it shares its limits",
                            environ.get("REMOTE_ADDR"))
            for name in _HEADERS:
                environ.pop(name, None)
        return self.app(environ, start_response)


def is_local(environ: dict) -> bool:
    """Whether the request comes from this machine itself: a loopback peer, not
    forwarded by a proxy (whatever address the proxy forwarded)."""
    if environ.get(FORWARDED):
        return False
    address = _address(environ.get("REMOTE_ADDR", ""))
    return address is not None and address.is_loopback


def allow_ips_address(environ: dict) -> str | None:
    """The address a carrier's `allow_ips` judges: the client's, except that a forwarded
    loopback address is none at all (it is never the machine's own)."""
    address = environ.get("REMOTE_ADDR")
    if environ.get(FORWARDED):
        parsed = _address(address or "")
        if parsed is None or parsed.is_loopback:
            return None
    return address


def limit_key(address: str | None) -> str:
    """The key a per-address limit counts `address` under: an IPv4 address as it is, an
    IPv6 address by its /64 (one subscriber or site is given a whole /64, so its
    addresses are one client to a limit), anything else as given ("?" when unknown)."""
    parsed = _address(address or "")  # an IPv4-mapped address is read as IPv4
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed) if parsed is not None else (address or "?")
