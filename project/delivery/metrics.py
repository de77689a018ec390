"""``/metrics`` for delivery: circuits, sends by provider, reports, send-to-delivered time.

Read from Redis at scrape time, like the service's other counters, so every
process reports the same figures.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Flask
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from ..redis_store import (
    DELIVERY_BUCKETS,
    DELIVERY_SECONDS_KEY,
    LATENCY_BUCKETS,
    PROVIDER_LATENCY_KEY,
    PROVIDER_SENDS_KEY,
    REPORT_METRICS_KEY,
    get_redis,
)
from .chain import get_chain

CIRCUIT_VALUES = {"closed": 0, "half_open": 1, "open": 2}


def _labelled(raw: dict[bytes, bytes]) -> Iterator[tuple[str, str, str]]:
    for field, value in raw.items():
        provider, _, label = field.decode().partition(":")
        yield provider, label, value.decode()


class DeliveryCollector:
    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        client = get_redis(self.app)
        circuit = GaugeMetricFamily(
            "sms_provider_circuit_state",
            "Each provider's circuit breaker: 0 closed, 1 half-open (next call probes), 2 open.",
            labels=["provider"],
        )
        for provider, state in get_chain(self.app).states().items():
            circuit.add_metric([provider], CIRCUIT_VALUES[state])
        yield circuit

        sends = CounterMetricFamily(
            "sms_provider_sends",
            "Provider calls by outcome: sent, retry, give_up, failover (did not take it).",
            labels=["provider", "outcome"],
        )
        for provider, outcome, value in _labelled(client.hgetall(PROVIDER_SENDS_KEY)):
            sends.add_metric([provider, outcome], int(value))
        yield sends

        reports = CounterMetricFamily(
            "sms_delivery_reports",
            "Delivery reports by provider and status: delivered, failed, duplicate, unknown.",
            labels=["provider", "status"],
        )
        for provider, status, value in _labelled(client.hgetall(REPORT_METRICS_KEY)):
            reports.add_metric([provider, status], int(value))
        yield reports

        yield _histogram(
            client.hgetall(PROVIDER_LATENCY_KEY),
            "sms_provider_latency_seconds",
            "Seconds one provider call took, whatever its outcome.",
            LATENCY_BUCKETS,
        )
        yield _histogram(
            client.hgetall(DELIVERY_SECONDS_KEY),
            "sms_delivery_seconds",
            "Seconds from the provider's acceptance to the phone's delivery report.",
            DELIVERY_BUCKETS,
        )


def _histogram(
    raw: dict[bytes, bytes], name: str, documentation: str, bounds: tuple[float, ...]
) -> HistogramMetricFamily:
    """A per-provider histogram from its hash of per-bucket counts (``redis_store.observe``)."""
    histogram = HistogramMetricFamily(name, documentation, labels=["provider"])
    by_provider: dict[str, dict[str, str]] = {}
    for provider, label, value in _labelled(raw):
        by_provider.setdefault(provider, {})[label] = value
    for provider, fields in sorted(by_provider.items()):
        buckets, total = [], 0
        for bound in (*bounds, float("inf")):
            total += int(fields.get(str(bound), 0))
            buckets.append(("+Inf" if bound == float("inf") else str(bound), total))
        histogram.add_metric([provider], buckets, float(fields.get("sum", 0)))
    return histogram


def init_app(app: Flask) -> None:
    app.extensions["metrics_registry"].register(DeliveryCollector(app))
