"""The ``send_sms`` Celery task and the one way the web enqueues it.

Delivery is at-least-once without double sends: the message is acknowledged
after the task ran and requeued if its worker dies (``acks_late``,
``reject_on_worker_lost``), and the send ledger in Redis remembers each send
that went out, so a redelivered message does not send it again.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import shared_task
from celery.signals import before_task_publish, task_revoked
from flask import current_app

from . import metrics
from .errors import UNAVAILABLE
from .logs import send_context
from .mobile import mask_mobile
from .providers import get_provider
from .providers.status import Action, classify
from .queue import PUBLISHED_AT
from .redis_store import SendLedger, get_ledger
from .sealing import SealBroken, unseal

logger = logging.getLogger(__name__)

TASK_NAME = "send_sms"


def backoff(retries: int) -> float:
    """Exponential back-off with full jitter, capped below the visibility timeout."""
    config = current_app.config
    ceiling = min(config["SMS_RETRY_BACKOFF_MAX"], config["SMS_RETRY_BACKOFF"] * 2**retries)
    return random.uniform(ceiling / 2, ceiling)


def _expires_at(request: Any) -> datetime | None:
    expires = request.expires
    if not expires:
        return None
    if isinstance(expires, str):
        expires = datetime.fromisoformat(expires)
    return expires if expires.tzinfo else expires.replace(tzinfo=UTC)


@shared_task(name=TASK_NAME, bind=True, ignore_result=True, max_retries=None)
def send_sms(self: Any, tid: str, mobile: str, datas: list[str]) -> None:
    """Send one template SMS; runs in the Flask app context (FlaskTask)."""
    with send_context(self.request.id, mask_mobile(mobile)):
        _send(self, str(tid), mobile, datas)


def _send(task: Any, tid: str, mobile: str, datas: list[str]) -> None:
    send_id, masked = task.request.id, mask_mobile(mobile)
    ledger = get_ledger()
    try:
        state = ledger.begin(send_id, secrets.token_hex(8))
    except UNAVAILABLE as exc:
        # Without the ledger we cannot know whether this already went out.
        raise task.retry(countdown=backoff(task.request.retries), exc=exc) from None
    if state == "sent":
        logger.info("SMS to %s [%s] already sent; redelivered message ignored", masked, send_id)
        return
    if state == "busy":
        logger.info("SMS to %s [%s] is being sent by another delivery", masked, send_id)
        raise task.retry(countdown=SendLedger.LOCK_TTL / 4, max_retries=None)

    def finish(sent: bool, counter: str) -> None:
        # Redis gone after the send: a retry or an ack must still happen.
        try:
            ledger.finish(send_id, sent=sent, counter=counter)
        except UNAVAILABLE:
            logger.warning(
                "SMS to %s [%s]: outcome not recorded, Redis unavailable", masked, send_id
            )

    try:
        result = get_provider().send(tid, mobile, [unseal(str(d)) for d in datas])
    except SealBroken as exc:
        finish(False, metrics.SENDS_FAILED)
        logger.error("SMS to %s [%s] not sent: %s", masked, send_id, exc)
        return
    except BaseException:
        finish(False, metrics.SENDS_FAILED)
        raise
    verdict = classify(result.status_code)
    if verdict.action is Action.SENT:
        finish(True, metrics.SENDS_SUCCEEDED)
        logger.info("SMS sent to %s [%s]", masked, send_id)
        return
    detail = f"statusCode {result.status_code} ({verdict.reason})"
    if verdict.action is Action.GIVE_UP:
        finish(False, metrics.SENDS_FAILED)
        logger.error("SMS to %s [%s] failed for good: %s", masked, send_id, detail)
        return
    budget = current_app.config["SMS_MAX_RETRIES"]
    countdown, why_not = _next_attempt(
        task.request, budget if verdict.max_retries is None else verdict.max_retries
    )
    if countdown is None:
        finish(False, metrics.SENDS_FAILED)
        logger.error("SMS to %s [%s] failed: %s; %s", masked, send_id, detail, why_not)
        return
    finish(False, metrics.SENDS_RETRIED)
    logger.warning(
        "SMS to %s [%s] attempt %d failed: %s; retrying in %.1f s",
        masked,
        send_id,
        task.request.retries + 1,
        detail,
        countdown,
    )
    raise task.retry(countdown=countdown, max_retries=None)


def _next_attempt(request: Any, limit: int) -> tuple[float | None, str]:
    """Seconds until the retry of a transient failure, or None and why there is none."""
    if request.retries >= limit:
        return None, f"gave up after {request.retries + 1} attempts"
    countdown = backoff(request.retries)
    expires = _expires_at(request)
    if expires and datetime.now(UTC) + timedelta(seconds=countdown) >= expires:
        return None, "dropped: the code expires before a retry"
    return countdown, ""


def enqueue_send(tid: str, mobile: str, datas: list[str], expires: int) -> None:
    """Publish a send through the current app's Celery; it expires with the code.

    The task is looked up on this app's Celery rather than the global
    default, so an app built with other settings publishes to its own broker.
    """
    task = current_app.extensions["celery"].tasks[TASK_NAME]
    # argsrepr given here spares Celery a saferepr of the arguments.
    # confirm_timeout bounds the wait for RabbitMQ's publisher confirm: no
    # confirm in time is a TimeoutError, and so a 503 (other brokers ignore it).
    task.apply_async(
        (tid, mobile, datas),
        expires=expires,
        argsrepr=_masked_args(tid, mobile),
        kwargsrepr="{}",
        confirm_timeout=current_app.config["CELERY_PUBLISH_TIMEOUT"],
    )


def _masked_args(tid: str, mobile: str) -> str:
    return repr((tid, mask_mobile(mobile), "******"))


@before_task_publish.connect
def _mask_logged_args(
    sender: str | None = None, headers: dict | None = None, body: Any = None, **_: Any
) -> None:
    """Celery logs and monitors show ``argsrepr``: keep the code and mobile out of it.

    Also stamps the publish time, from which the queue check tells a send's age.
    """
    if sender != TASK_NAME or headers is None:
        return
    headers.setdefault(PUBLISHED_AT, time.time())
    try:
        tid, mobile = body[0][0], body[0][1]
    except (TypeError, IndexError, KeyError):
        return
    headers["argsrepr"] = _masked_args(tid, mobile)


@task_revoked.connect
def _log_expired(sender: Any = None, request: Any = None, expired: bool = False, **_: Any) -> None:
    """Celery drops a send whose code expired while it waited; say so plainly."""
    if not expired or getattr(sender, "name", None) != TASK_NAME:
        return
    try:
        masked = mask_mobile(request.args[1])
    except (AttributeError, IndexError, TypeError):
        masked = "***"
    metrics.count(metrics.SENDS_DROPPED_EXPIRED)
    logger.warning(
        "SMS to %s [%s] dropped: its code expired before it was sent", masked, request.id
    )
