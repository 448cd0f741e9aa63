"""Prometheus metrics of one app instance (its own registry, so test apps do not collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
# the methods counted under their own name; any other a client makes up is counted as "other",
# so no client can add series to /metrics (unknown paths are all "unmatched" likewise)
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})
OTHER_METHOD = "other"
UNMATCHED = "unmatched"


def method_label(method: str) -> str:
    return method if method in METHODS else OTHER_METHOD


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "attnserve_requests_total",
            "HTTP requests answered",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "attnserve_request_seconds",
            "HTTP request latency",
            ["endpoint", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "attnserve_batch_size",
            "requests merged into one model call",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "attnserve_queue_depth",
            "items (texts, series) submitted and not yet answered",
            ["model"],
            registry=self.registry,
        )
        self.abandoned = Counter(
            "attnserve_abandoned_items_total",
            "items whose caller gave up (timeout, disconnect): dropped from the queue or stopped mid-decoding",
            ["model"],
            registry=self.registry,
        )
        self.load_seconds = Gauge(
            "attnserve_model_load_seconds", "checkpoint load time", ["model"], registry=self.registry
        )

    def observe_batch(self, model: str, size: int) -> None:
        self.batch_size.labels(model).observe(size)

    def observe_abandoned(self, model: str, count: int) -> None:
        self.abandoned.labels(model).inc(count)
