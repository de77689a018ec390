"""kombu's Sentinel transport, made to survive a failover with sends in flight.

When the master dies while a worker holds delivered, unacknowledged sends,
Celery closes the broker connection and kombu's channel tries to put those
sends back on the queue as it closes. By then the Sentinel channel has
dropped its pool and the transport its client, so rebuilding the pool fails
with an AttributeError that kombu does not expect: the worker stops for good
("Unrecoverable error") and delivers nothing after the failover.

Here the channel reports that case as the connection error it is. kombu
ignores connection errors while closing, the worker reconnects to the new
master, and the sends it held come back to the queue through the
visibility-timeout sweep (they are still in the unacked hash). Registering
the class under kombu's ``sentinel`` alias makes every ``sentinel://`` URL,
alternates included, use it.
"""

from __future__ import annotations

from typing import Any

from kombu import transport
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class SentinelChannel(kombu_redis.SentinelChannel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection is closed")
        return super()._connparams(asynchronous)


class SentinelTransport(kombu_redis.SentinelTransport):
    Channel = SentinelChannel


transport.TRANSPORT_ALIASES["sentinel"] = f"{__name__}:SentinelTransport"
