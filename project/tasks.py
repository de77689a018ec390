"""The ``send_sms`` Celery task and the one way the web enqueues it."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import before_task_publish
from flask import current_app

from .mobile import mask_mobile
from .providers import get_provider
from .sealing import SealBroken, unseal

logger = logging.getLogger(__name__)

TASK_NAME = "send_sms"


@shared_task(name=TASK_NAME, bind=True, ignore_result=True)
def send_sms(self: Any, tid: str, mobile: str, datas: list[str]) -> None:
    """Send one template SMS; runs in the Flask app context (FlaskTask)."""
    masked = mask_mobile(mobile)
    try:
        datas = [unseal(str(d)) for d in datas]
    except SealBroken as exc:
        logger.error("SMS to %s not sent [%s]: %s", masked, self.request.id, exc)
        return
    result = get_provider().send(str(tid), mobile, datas)
    if result.ok:
        logger.info("SMS sent to %s [%s]", masked, self.request.id)
    else:
        logger.error(
            "SMS to %s failed [%s]: statusCode %s %s",
            masked,
            self.request.id,
            result.status_code,
            result.message,
        )


def enqueue_send(tid: str, mobile: str, datas: list[str], expires: int) -> None:
    """Publish a send through the current app's Celery; it expires with the code.

    The task is looked up on this app's Celery rather than the global
    default, so an app built with other settings publishes to its own broker.
    """
    task = current_app.extensions["celery"].tasks[TASK_NAME]
    task.apply_async((tid, mobile, datas), expires=expires)


@before_task_publish.connect
def _mask_logged_args(
    sender: str | None = None, headers: dict | None = None, body: Any = None, **_: Any
) -> None:
    """Celery logs and monitors show ``argsrepr``: keep the code and mobile out of it."""
    if sender != TASK_NAME or headers is None:
        return
    try:
        tid, mobile = body[0][0], body[0][1]
    except (TypeError, IndexError, KeyError):
        return
    headers["argsrepr"] = repr((tid, mask_mobile(mobile), "******"))
