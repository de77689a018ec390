"""The jobs beat runs (schedule: ``beat_schedule`` in ``config.py``)."""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from . import metrics
from .abuse import conversion
from .queue import backlog, queue_stats, shown_age
from .redis_store import get_redis

logger = logging.getLogger(__name__)


@shared_task(name="check_send_queue", ignore_result=True)
def check_send_queue() -> None:
    """Warn when sends back up: too many waiting, or the oldest waiting too long."""
    stats = queue_stats()
    alarm = backlog(stats, current_app.config)
    if alarm:
        logger.warning("%s; add workers or check the provider", alarm)
    else:
        logger.info("send queue ok: %d waiting, oldest %s", stats.depth, shown_age(stats))


@shared_task(name="check_conversion", ignore_result=True)
def check_conversion() -> bool:
    """Raise or clear the conversion alarm (see ``project.abuse.conversion``)."""
    return conversion.check()


@shared_task(name="daily_rollup", ignore_result=True)
def daily_rollup(day: str | None = None) -> dict[str, int]:
    """Report one finished day's counters (default: yesterday, Beijing time)."""
    day = day or metrics.yesterday()
    counts = metrics.day_totals(get_redis(), day)
    logger.info(
        "daily roll-up %s: %s", day, ", ".join(f"{name}={value}" for name, value in counts.items())
    )
    return counts
