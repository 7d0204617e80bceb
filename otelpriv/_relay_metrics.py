"""The relay's own Prometheus metrics: counts and latencies, never values.

Each relay has its own registry, so several relays (tests, workers) never share counters.
"""

from __future__ import annotations

from collections import Counter

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client import Counter as PromCounter

__all__ = ["RelayMetrics"]


class RelayMetrics:
    """Counters and a latency histogram under the ``otelpriv_`` prefix."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = PromCounter(
            "otelpriv_received_items",
            "Spans, log records and data points received.",
            ["signal"],
            registry=self.registry,
        )
        self.exported = PromCounter(
            "otelpriv_exported_items",
            "Items the upstream accepted.",
            ["signal"],
            registry=self.registry,
        )
        self.dropped = PromCounter(
            "otelpriv_dropped_items",
            "Items not forwarded, by reason.",
            ["signal", "reason"],
            registry=self.registry,
        )
        self.rejected_requests = PromCounter(
            "otelpriv_rejected_requests",
            "Requests refused, by gRPC status.",
            ["signal", "code"],
            registry=self.registry,
        )
        self.redactions = PromCounter(
            "otelpriv_redactions",
            "Values changed, by rule.",
            ["rule"],
            registry=self.registry,
        )
        self.upstream_errors = PromCounter(
            "otelpriv_upstream_errors",
            "Failed deliveries after retries, by gRPC status.",
            ["code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "otelpriv_request_duration_seconds",
            "Receive to upstream answer.",
            ["signal"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    def count_rules(self, rules: Counter[str]) -> None:
        for rule, count in rules.items():
            self.redactions.labels(rule).inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
