"""Native delayed delivery set up once per (re)connection, on a node that answers.

Celery's own step declares the delayed-delivery exchanges and bindings on
every URL of ``CELERY_BROKER_URL`` in turn, retrying a dead node for 1 + 3 +
5 s before it lets the worker consume again: with one node of a cluster
down, every worker stalls for ten seconds or more. Those exchanges and
bindings are cluster-wide, so one node that answers is enough. The worker
uses this step through ``worker_consumer`` (set with an amqp:// broker).
"""

from __future__ import annotations

import logging

from celery.worker.consumer import Consumer as CeleryConsumer
from celery.worker.consumer.delayed_delivery import RETRIED_EXCEPTIONS, DelayedDelivery
from kombu.utils.url import maybe_sanitize_url

logger = logging.getLogger(__name__)


class ClusterDelayedDelivery(DelayedDelivery):
    """Set up on the node the worker is connected to, else the first other that answers."""

    def start(self, c: CeleryConsumer) -> None:
        self._validate_configuration(c.app)
        urls = self._validate_broker_urls(c.app.conf.broker_url)
        if c.connection is not None:
            current = c.connection.as_uri(include_password=True)
            urls = sorted(urls, key=lambda url: url != current)
        for url in urls:
            try:
                self._setup_delayed_delivery(c, url)
                return
            except RETRIED_EXCEPTIONS as exc:
                logger.warning(
                    "delayed delivery not set up on %s: %s", maybe_sanitize_url(url), exc
                )
        logger.critical("delayed delivery set up on no broker node: countdown retries will wait")


class Consumer(CeleryConsumer):
    class Blueprint(CeleryConsumer.Blueprint):
        default_steps = tuple(
            f"{__name__}:ClusterDelayedDelivery" if step.endswith(":DelayedDelivery") else step
            for step in CeleryConsumer.Blueprint.default_steps
        )
