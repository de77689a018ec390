"""How many sends wait in the broker, and for how long the oldest has waited."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app

PUBLISHED_AT = "published_at"  # header stamped on every send at publish time


@dataclass(frozen=True)
class QueueStats:
    depth: int
    oldest_age: float | None  # seconds; None when empty or unknown (AMQP)


def queue_stats() -> QueueStats:
    """Depth of the default queue; on Redis also the oldest message's age."""
    celery = current_app.extensions["celery"]
    queue = celery.conf.task_default_queue
    with celery.connection_for_read() as conn:
        channel = conn.default_channel
        if conn.transport.driver_type == "redis":
            client = channel.client
            depth = int(client.llen(queue))
            oldest = client.lindex(queue, -1)  # kombu pushes left, pops right
            return QueueStats(depth, _age(oldest))
        declared = channel.queue_declare(queue=queue, passive=True)
        return QueueStats(int(declared.message_count), None)


def backlog(stats: QueueStats, config: Mapping[str, Any]) -> str | None:
    """The queue alarm as one line (``SMS_QUEUE_WARN_DEPTH``/``_AGE``); None when calm."""
    too_many = stats.depth > config["SMS_QUEUE_WARN_DEPTH"]
    too_old = stats.oldest_age is not None and stats.oldest_age > config["SMS_QUEUE_WARN_AGE"]
    if not (too_many or too_old):
        return None
    return f"send queue backing up: {stats.depth} waiting, oldest {shown_age(stats)}"


def shown_age(stats: QueueStats) -> str:
    """The oldest send's wait for a human: ``12 s`` or ``unknown``."""
    return "unknown" if stats.oldest_age is None else f"{stats.oldest_age:.0f} s"


def _age(raw: bytes | None) -> float | None:
    if raw is None:
        return None
    try:
        published = float(json.loads(raw)["headers"][PUBLISHED_AT])
    except (ValueError, KeyError, TypeError):
        return None
    return max(0.0, time.time() - published)
