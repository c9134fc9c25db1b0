"""Prometheus metrics: what flows through the gateway, and what waits.

Counters and the webhook latency histogram live in the process that counts
them. `learnline serve` and `learnline worker` share them through
prometheus-client's multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, set by the
CLI to `$LEARNLINE_METRICS_DIR`, default `<database>.metrics`), so `/metrics`
on any web process reports every gunicorn worker and the outbox worker.
Gauges of what waits (outbox depth, worker lag, heartbeat age) are read from
the database when scraped, through indexes.

`/metrics` answers this machine (a loopback peer, not forwarded by a proxy: see
gateway/server/forwarded.py), or anyone presenting `Authorization: Bearer
$LEARNLINE_METRICS_TOKEN`; everyone else gets 403.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterable, Iterator

from flask import Blueprint, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway import environment
from gateway.server import forwarded
from gateway.store import Store
from gateway.store.per_thread import get_store

INBOUND = Counter(
    "learnline_inbound_messages", "Inbound SMS by carrier and what became of them "
    "(accepted, repeat, throttled, invalid, unauthenticated)", ["carrier", "outcome"])
PROCESSING_FAILURES = Counter(
    "learnline_processing_failures", "Inbound messages the engine failed on (the learner "
    "got an apology; the error is in the log and the inbound table)", ["carrier"])
OUTBOUND = Counter(
    "learnline_outbound_messages", "Send attempts by carrier and outcome "
    "(accepted, retry, failed, cancelled)", ["carrier", "outcome"])
DELIVERY_REPORTS = Counter(
    "learnline_delivery_reports", "Delivery reports by carrier and status",
    ["carrier", "status"])
USSD_SCREENS = Counter("learnline_ussd_screens", "USSD screens served, by carrier", ["carrier"])
WEBHOOK_SECONDS = Histogram(
    "learnline_webhook_seconds", "Time to answer a carrier's webhook", ["carrier", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))

blueprint = Blueprint("metrics", __name__)


def count_from_zero(carrier_ids: Iterable[str]) -> None:
    """Start, at 0, the series of each configured carrier that alerts watch for a rise
    (docs/operations.md, Metrics): Prometheus' `increase()` sees no first failure in a
    series that begins with it."""
    for carrier in carrier_ids:
        PROCESSING_FAILURES.labels(carrier)
        INBOUND.labels(carrier, "unauthenticated")
        OUTBOUND.labels(carrier, "failed")


class WaitingCollector(Collector):
    """Gauges read from the database at scrape time; each configured carrier has its
    series, 0 when nothing of it waits."""

    def __init__(self, store: Callable[[], Store], carrier_ids: Iterable[str] = ()):
        self.store = store
        self.carrier_ids = tuple(carrier_ids)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        store = self.store()
        now = time.time()
        depth = GaugeMetricFamily("learnline_outbox_depth",
                                  "Messages queued or being sent, by carrier", labels=["carrier"])
        counts = dict.fromkeys(self.carrier_ids, 0) | store.outbox_depth()
        for carrier, count in sorted(counts.items()):
            depth.add_metric([carrier], count)
        yield depth
        oldest = store.oldest_waiting_since(now)
        yield GaugeMetricFamily(
            "learnline_worker_lag_seconds",
            "Age of the oldest message waiting to be sent (retries do not reset it)",
            value=max(0.0, now - oldest) if oldest is not None else 0.0)
        refused = GaugeMetricFamily(
            "learnline_carrier_credentials_refused",
            "1 for a carrier whose API refused the gateway's credentials at its last send",
            labels=["carrier"])
        refusals = store.refusals()
        for carrier in sorted(set(self.carrier_ids) | set(refusals)):
            refused.add_metric([carrier], 1.0 if carrier in refusals else 0.0)
        yield refused
        beat = store.last_beat("worker")
        yield GaugeMetricFamily(
            "learnline_worker_heartbeat_age_seconds",
            "Seconds since the outbox worker last reported (-1: never)",
            value=max(now - beat, 0.0) if beat is not None else -1.0)  # 0: a clock step


def _allowed() -> bool:
    token = environment.get("LEARNLINE_METRICS_TOKEN", "")
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    return forwarded.is_local(request.environ)


@blueprint.get("/metrics")
def metrics() -> Response:
    """Every metric in Prometheus' text format."""

    if not _allowed():
        return Response("403 Forbidden\n", status=403, content_type="text/plain; charset=utf-8")
    if environment.get("PROMETHEUS_MULTIPROC_DIR") is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    output = generate_latest(registry)
    waiting = CollectorRegistry()
    carriers = current_app.extensions.get("learnline.carriers", ())
    waiting.register(WaitingCollector(get_store, [carrier.id for carrier in carriers]))
    output += generate_latest(waiting)
    return Response(output, content_type=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


def observe_webhook(carrier: str, route: str, started: float) -> None:
    """Record the latency of a webhook that began at `started` (time.perf_counter())."""
    WEBHOOK_SECONDS.labels(carrier, route).observe(time.perf_counter() - started)
