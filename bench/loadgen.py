"""A small asyncio HTTP/1.1 load generator (keep-alive, form POSTs), run in its own process
so that measuring does not compete with the server for the same interpreter."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode, urlsplit


class Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post_form(self, path: str, fields: dict[str, str],
                        headers: dict[str, str] | None = None) -> tuple[int, bytes, float]:
        """POST a form; return status, body and seconds taken."""
        body = urlencode(fields).encode()
        return await self.request("POST", path, body,
                                  {"Content-Type": "application/x-www-form-urlencoded",
                                   **(headers or {})})

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: dict[str, str] | None = None) -> tuple[int, bytes, float]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 f"Content-Length: {len(body)}"]
        lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
        return await self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    async def send(self, payload: bytes) -> tuple[int, bytes, float]:
        """Send one complete, prepared request (head and body); return status, body and
        seconds taken. Preparing requests ahead keeps the load generator's own work small."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        start = time.perf_counter()
        self.writer.write(payload)
        await self.writer.drain()
        assert self.reader is not None
        status_line = await self.reader.readline()
        if not status_line:  # the server closed a kept-alive connection (idle, or recycled)
            self.writer.close()
            self.writer = None
            raise ConnectionResetError("connection closed by the server")
        status = int(status_line.split()[1])
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        data = await self.reader.readexactly(length) if length else b""
        elapsed = time.perf_counter() - start
        if close:
            self.writer.close()
            self.writer = None
        return status, data, elapsed

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]
