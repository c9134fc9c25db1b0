"""A TCP proxy on loopback that stands for a bad link: it can be down (connections
closed at once), cut connections after a random number of bytes in either direction
(mid-request or mid-answer), and delay them."""

from __future__ import annotations

import random
import select
import socket
import threading
import time


class FlakyProxy:
    """Forwards 127.0.0.1:<port> to a target port, misbehaving as told."""

    def __init__(self, target_port: int, *, seed: int = 0):
        self.target_port = target_port
        self.rng = random.Random(seed)
        self.up = True
        self.cut_rate = 0.0  # share of connections cut mid-way
        self.cut_direction: str | None = None  # "up", "down", or None: either
        self.cut_after: int | None = None  # bytes a cut connection carries; None: random
        self.max_delay = 0.0  # seconds, added before forwarding a connection
        self.connections = self.cuts = self.refused = 0
        self.bytes_up = self.bytes_down = 0  # what crossed the link, headers included
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stopped = threading.Event()

    def __enter__(self) -> FlakyProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                up = self.up
                cut = self.rng.random() < self.cut_rate
                budget = self.rng.randrange(1, 4000) if self.cut_after is None \
                    else self.cut_after
                direction = self.cut_direction or self.rng.choice(("up", "down"))
                delay = self.rng.uniform(0, self.max_delay)
            if not up:
                with self._lock:
                    self.refused += 1
                client.close()
                continue
            threading.Thread(target=self._pipe, args=(client, cut, budget, direction, delay),
                             daemon=True).start()

    def _pipe(self, client: socket.socket, cut: bool, budget: int, direction: str,
              delay: float) -> None:
        try:
            if delay:
                time.sleep(delay)
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
        except OSError:
            client.close()
            return
        sent = {"up": 0, "down": 0}
        ends = {client: (upstream, "up"), upstream: (client, "down")}
        try:
            while not self._stopped.is_set():
                readable, _, _ = select.select(list(ends), [], [], 1.0)
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    target, way = ends[source]
                    if cut and way == direction and sent[way] + len(data) >= budget:
                        target.sendall(data[:max(0, budget - sent[way])])
                        with self._lock:
                            self.cuts += 1
                        return  # the link dies mid-way
                    target.sendall(data)
                    sent[way] += len(data)
                    with self._lock:
                        if way == "up":
                            self.bytes_up += len(data)
                        else:
                            self.bytes_down += len(data)
        except OSError:
            return
        finally:
            for end in ends:
                end.close()
