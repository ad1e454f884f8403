"""Prometheus metrics of one server process (``GET /metrics``), through ``prometheus_client``.

1. One registry per process (per ``ServerMetrics``), never the library's global one: each
   ``syncd serve`` process is scraped on its own address, and two apps in one interpreter
   (tests) do not share counters.
2. Labels hold route templates, methods and status codes only: never a raw path, a file
   name, a workspace id or a key, so the label set stays small and says nothing private.
3. Pool figures are read when scraped (a collector), not counted on the request path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

# Seconds: small PUTs answer in milliseconds, big bodies and long polls take up to a minute.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)  # mutations per group commit (db.GROUP_MAX is 64)

# No ``*_created`` series (the start time of each counter): they double the answer and
# say nothing a scraper needs. A library-wide switch, so it is thrown here, once.
disable_created_metrics()


class ServerMetrics:
    """The counters, histograms and gauges of one server process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "syncd_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "syncd_http_request_duration_seconds",
            "Time from the request's arrival to the end of its answer",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "syncd_http_requests_in_flight",
            "Requests being answered now (long polls included)",
            registry=self.registry,
        )
        self.commit_batch = Histogram(
            "syncd_commit_batch_size",
            "Mutations committed together by one group commit",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.long_polls = Gauge(
            "syncd_long_polls_parked",
            "Change-feed long polls waiting for a change now",
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Once per answered request, from the access middleware."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observe_commit(self, mutations: int) -> None:
        self.commit_batch.observe(mutations)

    def watch_pool(self, engine: Any) -> None:
        """Report the SQLAlchemy pool of ``engine`` at every scrape."""
        self.registry.register(PoolCollector(engine))

    def render(self, accept: str) -> tuple[bytes, str]:
        """Every metric of this process, and its content type: the Prometheus text format,
        or OpenMetrics when the scraper's ``Accept`` asks for it."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


class PoolCollector(Collector):
    """``syncd_db_pool_*`` from a SQLAlchemy pool, read at scrape time.

    A ``QueuePool`` reports its size, the connections checked out and the overflow in
    use; a pool without those figures (``NullPool``, ``StaticPool``) reports nothing.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self.engine.pool
        figures = [
            ("size", "Connections the pool keeps open", "size"),
            ("checked_out", "Connections in use by a request or the commit thread", "checkedout"),
            ("overflow", "Connections opened beyond the pool size", "overflow"),
        ]
        for name, text, method in figures:
            read = getattr(pool, method, None)
            if callable(read):
                yield GaugeMetricFamily(f"syncd_db_pool_{name}", text, value=max(0, read()))

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())
