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
from typing import Any, NoReturn

from celery import shared_task
from celery.exceptions import Ignore, Reject
from celery.signals import before_task_publish, task_revoked
from flask import current_app

from . import metrics
from .delivery.chain import Attempt, get_chain
from .errors import UNAVAILABLE, unavailable
from .logs import send_context
from .mobile import mask_mobile
from .providers import Action
from .queue import PUBLISHED_AT
from .redis_store import reset_after
from .sealing import SealBroken, unseal

logger = logging.getLogger(__name__)

TASK_NAME = "send_sms"
# How a code reaches the phone: a template SMS, or a voice call reading it out.
CHANNELS = ("sms", "voice")
# Seconds a worker keeps trying to record a send that went out while Redis
# is away (a Sentinel failover), within the task's soft time limit.
RECORD_PATIENCE = 8


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
def send_sms(
    self: Any,
    tid: str,
    mobile: str,
    datas: list[str],
    attempts: int = 0,
    purpose: str | None = None,
    channel: str = "sms",
) -> None:
    """Send one template SMS; runs in the Flask app context (FlaskTask).

    ``attempts`` counts the provider's transient failures so far: the retry
    budget is theirs alone, waiting for Redis or for a lock does not spend it.
    ``purpose`` picks the template of providers other than RongLian (whose
    template is ``tid``); None means the first of ``SMS_PURPOSES``.
    ``channel`` ``voice`` has the code read out by a call (RongLian's
    VoiceVerify) instead: same ledger, retries and expiry as an SMS.
    """
    with send_context(self.request.id, mask_mobile(mobile)):
        while True:
            try:
                return _send(self, str(tid), mobile, datas, attempts, purpose, channel)
            except _WaitHere as wait:
                # The broker took no retry: wait here, the message unacknowledged,
                # so even this worker's death cannot lose the send.
                time.sleep(wait.countdown)
                attempts = wait.attempts


def _send(
    task: Any,
    tid: str,
    mobile: str,
    datas: list[str],
    attempts: int,
    purpose: str | None,
    channel: str,
) -> None:
    send_id, masked = task.request.id, mask_mobile(mobile)
    chain = get_chain()
    try:
        begun = chain.begin(send_id, secrets.token_hex(8), mobile, masked, channel)
    except UNAVAILABLE as exc:
        if not unavailable(exc):
            raise
        # Without the ledger we cannot know whether this already went out.
        reset_after(exc)
        _wait(task, masked, attempts, f"Redis unavailable ({type(exc).__name__})")
    if begun.state == "sent":
        logger.info("SMS to %s [%s] already sent; redelivered message ignored", masked, send_id)
        return
    if begun.state == "busy":
        _wait(task, masked, attempts, "another delivery is sending it", chain.ledger.lock_ttl / 4)

    attempt: Attempt | None = None

    def finish(sent: bool, counter: str) -> None:
        # Redis gone after the send: a retry or an ack must still happen. A
        # send that went out is worth waiting for, a failover's few seconds:
        # unrecorded, its redelivery (the ack is lost with the broker) would
        # send it again.
        failed = counter == metrics.SENDS_FAILED
        deadline = time.monotonic() + (RECORD_PATIENCE if sent else 0)
        while True:
            try:
                chain.finish(send_id, attempt, counter, failed)
                return
            except UNAVAILABLE as exc:
                if not unavailable(exc):
                    raise
                if time.monotonic() >= deadline:
                    logger.warning(
                        "SMS to %s [%s]: outcome not recorded, Redis unavailable", masked, send_id
                    )
                    return
                time.sleep(0.5)

    try:
        clear = [unseal(str(d), mobile) for d in datas]
    except SealBroken as exc:
        finish(False, metrics.SEALS_REFUSED)
        logger.error("SMS to %s [%s] not sent: %s", masked, send_id, exc)
        return
    try:
        attempt = chain.send(begun, send_id, tid, mobile, clear, masked, purpose, channel)
    except UNAVAILABLE as exc:
        if not unavailable(exc):
            finish(False, metrics.SENDS_FAILED)
            raise
        # The chain raises only before a provider took the message.
        reset_after(exc)
        finish(False, metrics.SENDS_RETRIED)
        _wait(task, masked, attempts, f"Redis unavailable ({type(exc).__name__})")
    except BaseException:
        finish(False, metrics.SENDS_FAILED)
        raise
    result = attempt.result
    verdict = result.verdict
    if verdict.action is Action.SENT:
        finish(True, metrics.SENDS_SUCCEEDED)
        logger.info("SMS sent to %s [%s] via %s", masked, send_id, result.provider)
        return
    detail = f"statusCode {result.status_code} ({verdict.reason}) from {result.provider}"
    if verdict.action is Action.GIVE_UP:
        finish(False, metrics.SENDS_FAILED)
        logger.error("SMS to %s [%s] failed for good: %s", masked, send_id, detail)
        return
    budget = current_app.config["SMS_MAX_RETRIES"]
    limit = budget if verdict.max_retries is None else verdict.max_retries
    if attempts >= limit:
        finish(False, metrics.SENDS_FAILED)
        logger.error(
            "SMS to %s [%s] failed: %s; gave up after %d attempts",
            masked,
            send_id,
            detail,
            attempts + 1,
        )
        return
    countdown = backoff(attempts)
    if _expires_before(task.request, countdown):
        finish(False, metrics.SENDS_FAILED)
        logger.error(
            "SMS to %s [%s] failed: %s; dropped: the code expires before a retry",
            masked,
            send_id,
            detail,
        )
        return
    finish(False, metrics.SENDS_RETRIED)
    logger.warning(
        "SMS to %s [%s] attempt %d failed: %s; retrying in %.1f s",
        masked,
        send_id,
        attempts + 1,
        detail,
        countdown,
    )
    _retry(task, attempts + 1, countdown)


def _expires_before(request: Any, countdown: float) -> bool:
    expires = _expires_at(request)
    return bool(expires and datetime.now(UTC) + timedelta(seconds=countdown) >= expires)


def _wait(
    task: Any, masked: str, attempts: int, why: str, countdown: float | None = None
) -> NoReturn:
    """Try again later without spending the provider's retry budget."""
    send_id = task.request.id
    countdown = backoff(task.request.retries) if countdown is None else countdown
    if _expires_before(task.request, countdown):
        metrics.count(metrics.SENDS_DROPPED_EXPIRED)
        logger.error("SMS to %s [%s] dropped: %s until its code expired", masked, send_id, why)
        raise Ignore()
    logger.warning("SMS to %s [%s] waits: %s; again in %.1f s", masked, send_id, why, countdown)
    _retry(task, attempts, countdown)


class _WaitHere(Exception):
    """The retry could not be published: try again in this process after ``countdown``."""

    def __init__(self, attempts: int, countdown: float) -> None:
        super().__init__(f"retry in {countdown:.1f} s")
        self.attempts, self.countdown = attempts, countdown


def _retry(task: Any, attempts: int, countdown: float) -> NoReturn:
    """Publish the retry; if even that fails, keep the message instead of acking it.

    Celery rejects a message whose retry could not be published, and a
    broker that refuses writes (the same Redis at maxmemory, say) refuses a
    requeue too: the SMS would be lost. So the send waits in this process
    instead, its message unacknowledged.
    """
    try:
        raise task.retry(
            kwargs={**(task.request.kwargs or {}), "attempts": attempts},
            countdown=countdown,
            max_retries=None,
        )
    except Reject:
        raise _WaitHere(attempts, countdown) from None


def enqueue_send(
    tid: str, mobile: str, datas: list[str], expires: int, purpose: str, channel: str = "sms"
) -> None:
    """Publish a send through the current app's Celery; it expires with the code.

    The task is looked up on this app's Celery rather than the global
    default, so an app built with other settings publishes to its own broker.
    With RabbitMQ the publish waits for the broker's confirm, a few seconds at
    most: an unconfirmed send raises, and the web answers 503.
    """
    task = current_app.extensions["celery"].tasks[TASK_NAME]
    # argsrepr given here spares Celery a saferepr of the arguments.
    kwargs = {"purpose": purpose, "channel": channel}
    # confirm_timeout bounds the wait for RabbitMQ's publisher confirm: no
    # confirm in time is a TimeoutError, and so a 503 (other brokers ignore it).
    task.apply_async(
        (tid, mobile, datas),
        kwargs,
        expires=expires,
        argsrepr=_masked_args((tid, mobile, datas)),
        kwargsrepr=repr(kwargs),
        confirm_timeout=current_app.config["CELERY_CONFIRM_TIMEOUT"],
    )


def _masked_args(args: Any) -> str:
    """``(tid, mobile, datas)`` as monitors may show it: mobile masked, data hidden."""
    args = list(args)
    if len(args) > 1:
        args[1] = mask_mobile(args[1])
    if len(args) > 2:
        args[2] = "******"
    return repr(tuple(args))


def _masked_kwargs(kwargs: dict[str, Any]) -> str:
    hidden = {"mobile": mask_mobile(kwargs.get("mobile", "")), "datas": "******"}
    return repr({name: hidden.get(name, value) for name, value in kwargs.items()})


def _mobile_of(args: Any, kwargs: Any) -> str:
    try:
        return mask_mobile(args[1] if args and len(args) > 1 else (kwargs or {})["mobile"])
    except (KeyError, TypeError):
        return "***"


@before_task_publish.connect
def _mask_logged_args(
    sender: str | None = None, headers: dict | None = None, body: Any = None, **_: Any
) -> None:
    """Celery logs and monitors show ``argsrepr``/``kwargsrepr``: keep code and mobile out.

    Whoever publishes (the web, a retry, ``send_sms.delay(...)`` typed in a
    shell, positional or by keyword), the representations are masked here.
    Also stamps the publish time, from which the queue check tells a send's age.
    """
    if sender != TASK_NAME or headers is None:
        return
    headers.setdefault(PUBLISHED_AT, time.time())
    try:
        args, kwargs = body[0], body[1]
    except (TypeError, IndexError, KeyError):
        return
    headers["argsrepr"] = _masked_args(args or ())
    headers["kwargsrepr"] = _masked_kwargs(kwargs or {})


@task_revoked.connect
def _log_expired(sender: Any = None, request: Any = None, expired: bool = False, **_: Any) -> None:
    """Celery drops a send whose code expired while it waited; say so in one line, and count it.

    The signal fires outside any task, so the app context is pushed here.
    """
    if not expired or getattr(sender, "name", None) != TASK_NAME:
        return
    masked = _mobile_of(getattr(request, "args", None), getattr(request, "kwargs", None))
    with sender.flask_app.app_context():
        metrics.count(metrics.SENDS_DROPPED_EXPIRED)
    logger.warning(
        "SMS to %s [%s] dropped: its code expired before it was sent", masked, request.id
    )
