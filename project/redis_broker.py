"""kombu's Redis transport, with one redis-py client per channel instead of one per command.

kombu builds a fresh redis-py client for each command it sends outside its
consumer (a publish, an ack, a queue length). Building one copies some 200
reply callbacks: a quarter of what a publish costs the web process (``make
profile``). The connection pool behind it was always shared; here the client
around the pool is kept too, rebuilt only when the channel's pool is (after a
reconnect). A redis-py client is safe to share between threads, and a kombu
channel is used by one thread at a time anyway. Registered under kombu's
``redis`` and ``rediss`` aliases, so Celery picks it for those URLs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kombu import transport
from kombu.transport import redis as kombu_redis
from redis import Redis


class ReusedClient:
    """Channel mix-in: ``conn_or_acquire`` yields the channel's one client."""

    @contextmanager
    def conn_or_acquire(self, client: Redis | None = None) -> Iterator[Redis]:
        if client:
            yield client
            return
        reused = self.__dict__.get("_reused_client")
        if reused is None or reused.connection_pool is not self.pool:
            reused = self.__dict__["_reused_client"] = self._create_client()
        yield reused


class Channel(ReusedClient, kombu_redis.Channel):
    pass


class Transport(kombu_redis.Transport):
    Channel = Channel


for _alias in ("redis", "rediss"):
    transport.TRANSPORT_ALIASES[_alias] = f"{__name__}:Transport"
