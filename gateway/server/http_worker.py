"""Learnline's gunicorn worker: gunicorn's threaded worker (gthread), except that a
connection gets one of the few request threads only once its whole request is in.

gthread hands a new connection to a thread straight away, and the thread then waits on
the socket for the request: a client that sends nothing, or its headers a byte at a
time, holds the thread for as long as it likes, and a dozen such clients stopped every
request, health checks included. Here the worker's own loop (which already watches
every kept-alive connection) reads each request without blocking, up to its last byte,
and only then passes it, already buffered, to a thread; the application reads it from
memory. A request still not whole after `HEAD_SECONDS` (its head) or with no new byte
of its body for `BODY_SECONDS` gets 408; a head over `MAX_HEAD_BYTES` gets 431; a body
declared or sent over the gateway's limit gets 413, without the application seeing it.
Closing is the same: gthread waits, on its event loop's only thread, up to 2 s for each
closing client to close its end; here the loop goes on and drops the client's last bytes
as they come (`LINGER_SECONDS`).
A request must also be whole within `REQUEST_SECONDS` of its first wait, however it
trickles (`LARGE_BODY_SECONDS` for a larger body the application allowed: a route may
take more than the gateway's limit from those allowed to use it, and a body declared
over the limit to such a route is held, unread, while a thread asks the application with
the request's head alone; gateway/server/body_limits.py); one client address may have
`MAX_ARRIVING_PER_ADDRESS` requests arriving at once per process (a further one drops
its oldest); and a process at its connection limit drops its oldest arriving connection
to take a new one, rather than stop
accepting. A thread's socket has a timeout (`THREAD_SOCKET_SECONDS`), so no difference
between this reader and gunicorn's parser can hold a thread for good. Out of file
descriptors, the process stops accepting for a moment instead of dying (gthread's
accept raises), and at start it raises its open-file limit to the hard limit.
Waiting connections cost a file descriptor and their bytes, not a thread: each server
process holds up to gunicorn's `worker_connections` (1000) of them, fewer if the
open-file limit is lower; more wait in the kernel's backlog. docs/operations.md,
"Slow clients".

This subclasses gthread's `ThreadWorker` and uses its connection objects and request
parser as gunicorn 27 has them (`enqueue_req`, `TConn.data_ready`, the parser's
unreader); pyproject.toml holds gunicorn to that series.
"""

from __future__ import annotations

import contextlib
import errno
import io
import resource
import selectors
import socket
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial

from gunicorn import http
from gunicorn.http import wsgi
from gunicorn.http.message import Request
from gunicorn.http.unreader import IterUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker

from gateway.server import body_limits
from gateway.server.http_framing import Arrival, RequestFramer
from gateway.server.request_guard import MAX_REQUEST_BYTES

# How long a request's head may take to arrive in full (nginx's client_header_timeout).
HEAD_SECONDS = 10.0
# How long a request's body may go without a new byte (nginx's client_body_timeout).
BODY_SECONDS = 10.0
# The longest a request may take to arrive whole, however it trickles.
REQUEST_SECONDS = 30.0
# The same for a body over the gateway's limit that the application allowed (a staff
# upload: 8 MB in 120 s is about 0.6 Mbit/s).
LARGE_BODY_SECONDS = 120.0
# The largest request head read: request line (gunicorn's 8190) and headers.
MAX_HEAD_BYTES = 64 * 1024
# Requests arriving at once from one client address, per server process.
MAX_ARRIVING_PER_ADDRESS = 128
# A thread's socket waits this long at most for a read, or to send an answer (a whole
# sendall: long enough for a large admin report to a slow client).
THREAD_SOCKET_SECONDS = 30.0
# Out of file descriptors: stop accepting for this long (or until the next loop turn).
ACCEPT_PAUSE_SECONDS = 0.1
# File descriptors kept for the process's own files (database, logs, pipes) and threads.
SPARE_FILES = 64
_OUT_OF_FILES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
# A closing connection is read (and what it sends dropped) until the client closes its
# end, this long or this much at most, so the last answer is not cut by a reset.
LINGER_SECONDS = 2.0
LINGER_BYTES = 65536
_READ_BYTES = 65536


class _TimedSocket(socket.socket):
    """A client socket that, put in blocking mode (as gthread does for a thread), waits
    `THREAD_SOCKET_SECONDS` at most instead of for ever."""

    def setblocking(self, flag: bool) -> None:
        if flag:
            self.settimeout(THREAD_SOCKET_SECONDS)
        else:
            super().setblocking(False)


@dataclass(eq=False)
class _Arriving:
    """A connection whose request is still arriving."""

    conn: TConn
    deadline: float
    framer: RequestFramer
    address: str
    last_chance: float = 0.0  # the request's total deadline
    continued: bool = False  # `100 Continue` sent

    @property
    def data(self) -> bytearray:
        return self.framer.data


@dataclass(eq=False)
class _Lingering:
    """A connection closing: its answer sent, the client's end not yet closed."""

    conn: TConn
    deadline: float
    drained: int = 0
    unsent: bytes = b""  # the answer's bytes still to send, before the close


_REFUSALS = {Arrival.BAD: "400 Bad Request",
             Arrival.HEAD_TOO_LARGE: "431 Request Header Fields Too Large",
             Arrival.BODY_TOO_LARGE: "413 Request Entity Too Large"}


def _plain_answer(status: str) -> bytes:
    """One plain line as a whole HTTP answer, the connection closing after it."""
    body = f"{status}\n".encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


def _answer(conn: TConn, status: str) -> None:
    """Best effort, never blocking: one plain line and the connection closes."""
    with contextlib.suppress(OSError):
        conn.sock.send(_plain_answer(status))


class BufferingWorker(ThreadWorker):
    """gthread that reads each request whole in its event loop before a thread runs it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.arriving: dict[TConn, _Arriving] = {}  # oldest first
        self.per_address: Counter[str] = Counter()
        self.lingering: dict[TConn, _Lingering] = {}
        self.max_body = 0
        self.accept_paused_until = 0.0

    def init_process(self) -> None:
        """Take the gateway's body limit; raise the open-file limit to the hard limit and
        hold connections below it."""
        self.max_body = MAX_REQUEST_BYTES
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
                soft = hard
        if soft != resource.RLIM_INFINITY:
            self.worker_connections = max(self.cfg.threads + 1,
                                          min(self.worker_connections, soft - SPARE_FILES))
            self.max_keepalived = self.worker_connections - self.cfg.threads
        super().init_process()

    def accept(self, listener) -> None:
        """Take a new connection. Out of file descriptors, drop the oldest arriving
        connection and stop accepting for a moment (gthread raises, and the process
        dies); at the connection limit, drop the oldest arriving one to make room."""
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno in _OUT_OF_FILES:
                self.log.warning("Out of file descriptors (%s): not accepting for a moment",
                                 e.strerror)
                self._drop_oldest()
                self.accept_paused_until = time.monotonic() + ACCEPT_PAUSE_SECONDS
                self.set_accept_enabled(False)
            elif e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        sock = _TimedSocket(fileno=client_sock.detach())
        self.nr_conns += 1
        self.enqueue_req(TConn(self.cfg, sock, client_addr, listener.getsockname()))
        if self.nr_conns >= self.worker_connections:
            self._drop_oldest()

    def set_accept_enabled(self, enabled: bool) -> None:
        """As gthread, except that accepting stays off while paused for file descriptors."""
        if enabled and time.monotonic() < self.accept_paused_until:
            return
        super().set_accept_enabled(enabled)

    def _drop_oldest(self, address: str | None = None) -> None:
        """Close the connection that has been arriving longest (from `address`, if given)."""
        for arriving in self.arriving.values():
            if address is None or arriving.address == address:
                self._drop(arriving)
                return

    def enqueue_req(self, conn: TConn) -> None:
        """Wait, on the event loop, for `conn`'s next request to be whole; then run it on a
        thread. gthread calls this on its loop for a new connection, a kept-alive one
        turned readable, and one whose previous request left bytes read ahead."""
        if self.cfg.is_ssl:  # TLS belongs to the proxy in front (docs/operations.md)
            super().enqueue_req(conn)
            return
        now = time.monotonic()
        framer = RequestFramer(MAX_HEAD_BYTES, self.max_body,
                               max_line=self.cfg.limit_request_field_size or 8190,
                               may_allow=self._may_allow)
        address = conn.client[0] if isinstance(conn.client, tuple) else str(conn.client)
        arriving = _Arriving(conn, now + HEAD_SECONDS, framer, address,
                             last_chance=now + REQUEST_SECONDS)
        if conn.parser is not None:  # bytes of this request read with the last one
            buffered = conn.parser.unreader.take_buffered()
            if buffered and self._judge(arriving, buffered, waiting=False):
                return
        conn.sock.setblocking(False)
        if self.per_address[address] >= MAX_ARRIVING_PER_ADDRESS:
            self._drop_oldest(address)
        self.arriving[conn] = arriving
        self.per_address[address] += 1
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, arriving))

    def _readable(self, arriving: _Arriving, sock) -> None:
        try:
            chunk = sock.recv(_READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client went away
            self._drop(arriving)
            return
        self._judge(arriving, chunk, waiting=True)

    def _judge(self, arriving: _Arriving, chunk: bytes, *, waiting: bool) -> bool:
        """Act on the bytes so far and `chunk`: True if the request was passed on or
        refused (a connection `waiting` on the event loop then leaves it first)."""
        conn = arriving.conn
        framing = arriving.framer.feed(chunk)
        if framing.arrival is Arrival.HELD:
            self._hold(arriving)
            return True
        if framing.arrival is Arrival.INCOMPLETE:
            if framing.head_done:
                arriving.deadline = min(time.monotonic() + BODY_SECONDS,
                                        arriving.last_chance)
                if framing.expects_continue and not arriving.continued:
                    arriving.continued = True
                    with contextlib.suppress(OSError):
                        conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            return False
        if waiting:
            self._forget(arriving)
        if framing.arrival is Arrival.COMPLETE:
            self._run(conn, bytes(arriving.data))
        else:
            _answer(conn, _REFUSALS[framing.arrival])
            self._linger(conn)
        return True

    def _may_allow(self, method: str, target: str) -> bool:
        return body_limits.larger_limit(self.wsgi, method, target) is not None

    def _hold(self, arriving: _Arriving) -> None:
        """Stop reading a body declared over the limit, to a route that may allow more, and
        ask the application on a thread (`_preflight`) whether this asker may send it."""
        conn = arriving.conn
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        conn.sock.setblocking(False)
        if conn not in self.arriving:  # held from bytes read with the last request
            self.arriving[conn] = arriving
            self.per_address[arriving.address] += 1
        arriving.deadline = arriving.last_chance  # the request's time runs on
        asked = self.tpool.submit(self._preflight, conn, arriving.framer.head)
        asked.add_done_callback(
            lambda done: self.method_queue.defer(self._preflighted, arriving, done))

    def _preflight(self, conn: TConn, head: bytes) -> tuple[int | None, bytes]:
        """(On a thread.) Run the application on the request's head with an empty body
        (body_limits.PREFLIGHT): (the body limit it allows, b"") or (None, the whole HTTP
        answer it gave instead, the connection to close after it)."""
        try:
            request = Request(self.cfg, IterUnreader([head]), conn.client)
        except Exception:  # any head gunicorn cannot read: the parser's 400
            return None, _plain_answer("400 Bad Request")
        request._expected_100_continue = False  # sent once the body is allowed
        _, environ = wsgi.create(request, None, conn.client, conn.server, self.cfg)
        environ.update({"wsgi.input": io.BytesIO(b""), body_limits.PREFLIGHT: True})
        answer: list = []

        def start_response(status: str, headers: list, exc_info=None):
            answer[:] = [status, headers]
            return lambda data: None

        try:
            result = self.wsgi(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            self.log.exception("asking the application about a large body")
            return None, _plain_answer("500 Internal Server Error")
        status, headers = answer
        allowed = body_limits.approved(status, headers)
        if allowed is not None:
            return allowed, b""
        lines = [f"HTTP/1.1 {status}"] + [
            f"{name}: {value}" for name, value in headers
            if name.lower() not in ("connection", "content-length", "transfer-encoding")]
        lines += [f"Content-Length: {len(body)}", "Connection: close"]
        return None, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def _preflighted(self, arriving: _Arriving, done) -> None:
        """(On the event loop.) The application's answer about a held body: read it, up to
        the limit allowed, or send its answer and close."""
        if self.arriving.get(arriving.conn) is not arriving:
            return  # timed out or dropped while the application was asked
        try:
            allowed, answer = done.result()
        except Exception:  # the pool shut down: the worker is stopping
            allowed, answer = None, _plain_answer("503 Service Unavailable")
        if allowed is None:
            self._forget(arriving)
            self._send(arriving.conn, answer)
            return
        arriving.last_chance = max(arriving.last_chance,
                                   time.monotonic() + LARGE_BODY_SECONDS)
        arriving.framer.allow(allowed)
        self.poller.register(arriving.conn.sock, selectors.EVENT_READ,
                             partial(self._readable, arriving))
        self._judge(arriving, b"", waiting=True)

    def _send(self, conn: TConn, data: bytes) -> None:
        """Send a whole answer without waiting (the rest as the socket takes it), then
        close gracefully."""
        try:
            sent = conn.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._close(conn)
            return
        if sent >= len(data):
            self._linger(conn)
            return
        sending = _Lingering(conn, time.monotonic() + BODY_SECONDS, unsent=data[sent:])
        self.lingering[conn] = sending
        self.poller.register(conn.sock, selectors.EVENT_WRITE, partial(self._write, sending))

    def _write(self, sending: _Lingering, sock) -> None:
        try:
            sent = sock.send(sending.unsent)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._end_linger(sending)
            return
        sending.unsent = sending.unsent[sent:]
        if not sending.unsent:
            self.lingering.pop(sending.conn, None)
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.poller.unregister(sock)
            self._linger(sending.conn)

    def _run(self, conn: TConn, data: bytes) -> None:
        """Hand a whole request to a thread: the parser reads it from memory."""
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(data)
        conn.data_ready = True  # gthread waits for nothing more
        super().enqueue_req(conn)

    def handle_request(self, req, conn: TConn) -> bool:
        """Serve a request (on a thread). Its body is already here: the `100 Continue`
        a client asked for went out while it arrived, and is not sent twice."""
        req._expected_100_continue = False
        return super().handle_request(req, conn)

    def finish_request(self, conn: TConn, fs) -> None:
        """After a thread served a request (on the event loop): a connection to close
        lingers here for the client's end (gthread waits for it on the event loop's own
        thread, up to 2 s each, and a few clients that never close stopped everything)."""
        if not fs.cancelled() and fs.exception() is None and fs.result() is False:
            self._linger(conn)
            return
        super().finish_request(conn, fs)

    def _linger(self, conn: TConn) -> None:
        """Close `conn` gracefully without waiting: send our FIN now, read and drop what
        the client still sends until it closes too (RFC 9112, section 9.6)."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
        except OSError:
            self._close(conn)
            return
        lingering = _Lingering(conn, time.monotonic() + LINGER_SECONDS)
        self.lingering[conn] = lingering
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._drain, lingering))

    def _drain(self, lingering: _Lingering, sock) -> None:
        try:
            chunk = sock.recv(_READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        lingering.drained += len(chunk)
        if not chunk or lingering.drained >= LINGER_BYTES:
            self._end_linger(lingering)

    def _end_linger(self, lingering: _Lingering) -> None:
        self.lingering.pop(lingering.conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(lingering.conn.sock)
        self._close(lingering.conn)

    def _forget(self, arriving: _Arriving) -> None:
        if self.arriving.pop(arriving.conn, None) is not None:
            self.per_address[arriving.address] -= 1
            if self.per_address[arriving.address] <= 0:
                del self.per_address[arriving.address]
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(arriving.conn.sock)

    def _drop(self, arriving: _Arriving) -> None:
        self._forget(arriving)
        self._close(arriving.conn)

    def _close(self, conn: TConn) -> None:
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """gthread's sweep of waiting connections (run at least once a second), and ours:
        a request past its time gets 408; a stopping worker drops connections that have
        sent nothing of a request; a lingering connection past its time is closed."""
        super().murder_pending()
        now = time.monotonic()
        for arriving in list(self.arriving.values()):
            if arriving.deadline <= now:
                self._forget(arriving)
                if arriving.data.strip():
                    _answer(arriving.conn, "408 Request Timeout")
                    self._linger(arriving.conn)
                else:
                    self._close(arriving.conn)
            elif not self.alive and not arriving.data.strip():
                self._drop(arriving)
        for lingering in list(self.lingering.values()):
            if lingering.deadline <= now:
                self._end_linger(lingering)

