"""Counters shared by every web and worker process, kept in Redis.

Each event adds to an all-time hash and to the day's hash (Beijing calendar
day, the day RongLian's caps count by). The hot paths count inside the
round trip they make anyway (the claim script, the send ledger); this module
counts the rest, serves ``/metrics`` in Prometheus text format, and reads a
finished day for the roll-up job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

from flask import Blueprint, Flask, Response, current_app
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from redis import Redis

from .errors import UNAVAILABLE
from .queue import queue_stats
from .redis_store import (
    METRICS_KEY,
    TIMEZONE,
    add_counts,
    get_abuse_store,
    get_redis,
    metrics_day_key,
)

logger = logging.getLogger(__name__)

CODES_REQUESTED = "codes_requested"
CODES_ISSUED = "codes_issued"
COOLDOWN_REFUSALS = "cooldown_refusals"
RATE_LIMIT_REFUSALS = "rate_limit_refusals"
SENDS_SUCCEEDED = "sends_succeeded"
SENDS_FAILED = "sends_failed"
SENDS_RETRIED = "sends_retried"
SENDS_DROPPED_EXPIRED = "sends_dropped_expired"
CODES_VERIFIED = "codes_verified"
TEST_CODES_ISSUED = "test_codes_issued"
CAPTCHA_REQUIRED = "captcha_required_refusals"
CAPTCHA_WRONG = "captcha_wrong_refusals"
BUDGET_REFUSALS = "budget_refusals"
SEALS_REFUSED = "seals_refused"

HELP = {
    CODES_REQUESTED: "Valid requests for a code, whatever their outcome.",
    CODES_ISSUED: "Codes stored and their SMS enqueued.",
    COOLDOWN_REFUSALS: "Requests refused because the mobile's cooldown ran.",
    RATE_LIMIT_REFUSALS: "Requests refused by a Flask-Limiter limit.",
    SENDS_SUCCEEDED: "SMS the provider accepted.",
    SENDS_FAILED: "SMS given up: permanent errors, spent retries, code expired before a retry.",
    SENDS_RETRIED: "Send attempts that failed transiently and were retried.",
    SENDS_DROPPED_EXPIRED: "Sends dropped unsent because their code expired in the queue.",
    CODES_VERIFIED: "Codes verified (test numbers not counted).",
    TEST_CODES_ISSUED: "Fixed codes stored for SMS_TEST_NUMBERS (no SMS sent).",
    CAPTCHA_REQUIRED: "Sends refused because they needed a captcha and had none.",
    CAPTCHA_WRONG: "Sends refused for a wrong, expired or used captcha.",
    BUDGET_REFUSALS: "Sends refused because SMS_HOURLY_BUDGET or SMS_DAILY_BUDGET was spent.",
    SEALS_REFUSED: "Sends refused: the sealed code did not open for that mobile or key.",
}

bp = Blueprint("metrics", __name__)


def count(*names: str) -> None:
    """Add one to each counter, in one round trip; never fails the caller."""
    try:
        with get_redis().pipeline(transaction=False) as pipe:
            add_counts(pipe, *names)
            pipe.execute()
    except UNAVAILABLE:
        logger.debug("counters %s not counted: Redis unavailable", names)


def totals(client: Redis) -> dict[str, int]:
    raw = client.hgetall(METRICS_KEY)
    return {name: int(raw.get(name.encode(), 0)) for name in HELP}


def day_totals(client: Redis, day: str) -> dict[str, int]:
    raw = client.hgetall(metrics_day_key(day))
    return {name: int(raw.get(name.encode(), 0)) for name in HELP}


def yesterday() -> str:
    return (datetime.now(TIMEZONE) - timedelta(days=1)).date().isoformat()


class _RedisCollector:
    """Reads the shared counters at scrape time, so every process reports the same."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        client = get_redis(self.app)
        for name, value in totals(client).items():
            family = CounterMetricFamily(f"sms_{name}", HELP[name])
            family.add_metric([], value)
            yield family
        depth = GaugeMetricFamily("sms_queue_depth", "Sends waiting in the broker queue.")
        age = GaugeMetricFamily("sms_queue_oldest_age_seconds", "Age of the oldest waiting send.")
        with self.app.app_context():
            stats = queue_stats()
        depth.add_metric([], stats.depth)
        age.add_metric([], stats.oldest_age or 0.0)
        yield depth
        yield age
        yield from self._abuse()

    def _abuse(self) -> Iterator[Metric]:
        """This hour's conversion, the alarm, and how much of each budget is spent."""
        store = get_abuse_store(self.app)
        now = datetime.now(TIMEZONE)
        issued, verified = store.last_hour(now)
        hour_issued, day_issued = store.issued_now(now)
        config = self.app.config
        gauges = [
            ("sms_codes_issued_last_hour", "Codes issued over the last hour.", issued),
            ("sms_codes_verified_last_hour", "Codes verified over the last hour.", verified),
            (
                "sms_conversion_ratio",
                "Codes verified per code issued over the last hour (1 with none issued).",
                min(1.0, verified / issued) if issued > 0 else 1.0,
            ),
            (
                "sms_conversion_alarm",
                "1 while the conversion alarm is on (every send then needs a captcha).",
                int(store.alarm_on()),
            ),
        ]
        for name, text, value in gauges:
            gauge = GaugeMetricFamily(name, text)
            gauge.add_metric([], value)
            yield gauge
        used = GaugeMetricFamily(
            "sms_budget_used", "Codes issued this clock hour / Beijing day.", labels=["window"]
        )
        limit = GaugeMetricFamily(
            "sms_budget_limit",
            "SMS_HOURLY_BUDGET / SMS_DAILY_BUDGET (0 = no cap).",
            labels=["window"],
        )
        exhausted = GaugeMetricFamily(
            "sms_budget_exhausted",
            "1 while a budget is spent and every send is refused.",
            labels=["window"],
        )
        for window, count, cap in (
            ("hour", hour_issued, config["SMS_HOURLY_BUDGET"]),
            ("day", day_issued, config["SMS_DAILY_BUDGET"]),
        ):
            used.add_metric([window], count)
            limit.add_metric([window], cap)
            exhausted.add_metric([window], int(bool(cap) and count >= cap))
        yield from (used, limit, exhausted)


@bp.get("/metrics")
def metrics() -> Response:
    registry = current_app.extensions["metrics_registry"]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_RedisCollector(app))
    app.extensions["metrics_registry"] = registry
    app.register_blueprint(bp)
