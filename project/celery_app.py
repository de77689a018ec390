"""Celery bound to the Flask app: every task runs inside ``app.app_context()``.

The pattern of Flask's own ``examples/celery``: one function builds the
Celery app from ``app.config["CELERY"]`` and keeps it in
``app.extensions["celery"]``.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from celery.signals import worker_ready
from flask import Flask

from config import dead_letter_queue

from . import sentinel_broker  # noqa: F401  (registers the sentinel:// transport)
from .redis_store import BEAT_KEY_PREFIX, BEAT_LOCK_KEY


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        # For signal handlers, which run outside any task.
        flask_app = app

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.conf.update(redbeat_key_prefix=BEAT_KEY_PREFIX, redbeat_lock_key=BEAT_LOCK_KEY)
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def declare_dead_letter_queues(celery_app: Celery) -> None:
    """Declare the dead-letter queue of each queue that names one, so nothing is dropped.

    Workers never consume it: an operator reads it (``rabbitmqctl list_queues``)
    and moves a message back by hand once its cause is fixed.
    """
    for queue in celery_app.conf.task_queues or ():
        if (queue.queue_arguments or {}).get("x-dead-letter-exchange"):
            with celery_app.connection_for_write() as conn:
                dead_letter_queue(queue.name)(conn.default_channel).declare()


@worker_ready.connect
def _declare_on_start(sender: Any = None, **_: Any) -> None:
    declare_dead_letter_queues(sender.app)
