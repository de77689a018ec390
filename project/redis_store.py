"""Redis: the client, every key name and every Lua script of the service.

Each operation that must be atomic across many web processes is one Lua
script, so a reader finds the whole storage protocol in this file.
"""

from __future__ import annotations

from flask import Flask, current_app
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

EXTENSION = "redis"
STORE = "sms_code_store"
LEDGER = "sms_send_ledger"


def init_app(app: Flask) -> None:
    """Create the app's Redis client (short time-outs) and code store.

    redis-py retries ten times with back-off by default; one immediate retry
    keeps a request fast when Redis is down yet survives a stale pooled
    connection after a Redis restart (the claim script is safe to repeat).
    """
    timeout = app.config["REDIS_SOCKET_TIMEOUT"]
    client = Redis.from_url(
        app.config["REDIS_URL"],
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )
    app.extensions[EXTENSION] = client
    app.extensions[STORE] = CodeStore(client)
    app.extensions[LEDGER] = SendLedger(client)


def get_redis(app: Flask | None = None) -> Redis:
    """The Redis client of ``app`` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]


def get_store(app: Flask | None = None) -> CodeStore:
    """The code store of ``app`` (default: the current app)."""
    return (app or current_app).extensions[STORE]


def get_ledger(app: Flask | None = None) -> SendLedger:
    """The send ledger of ``app`` (default: the current app)."""
    return (app or current_app).extensions[LEDGER]


# KEYS: cooldown, code, attempts. ARGV: claim token, interval, code digest, ttl.
# Returns 0 when the claim is ours (also when a retried call finds its own
# token), else the seconds left of somebody else's cooldown.
CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) or
   redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
  redis.call('DEL', KEYS[3])
  return 0
end
local left = redis.call('TTL', KEYS[1])
if left < 1 then left = 1 end
return left
"""

# KEYS: cooldown, code. ARGV: claim token, code digest.
# Undoes a claim whose send could not be enqueued, touching nothing newer.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
return 0
"""

# KEYS: code, attempts. ARGV: the digest the caller read and matched.
# Consumes the code only if it is still that one: of two concurrent correct
# verifies exactly one gets 1.
CONSUME = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
"""

# KEYS: code, attempts. ARGV: the digest the caller read, max attempts.
# Counts a wrong guess against that code; the counter lives exactly as long
# as the code, and the code is burned at the limit. Returns attempts left,
# or -1 when the code had already gone.
WRONG_GUESS = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local used = redis.call('INCR', KEYS[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
local left = tonumber(ARGV[2]) - used
if left <= 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 0
end
return left
"""

# KEYS: sent mark, in-flight lock. ARGV: lock owner, lock seconds.
# 'sent' if this send already went out, 'busy' if another delivery of the
# same message is sending it now, else 'go' (and the lock is ours).
BEGIN_SEND = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 'sent' end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then return 'go' end
if redis.call('GET', KEYS[2]) == ARGV[1] then return 'go' end
return 'busy'
"""


class CodeStore:
    """The verification-code records of one Redis, one mobile at a time."""

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._claim = client.register_script(CLAIM)
        self._release = client.register_script(RELEASE)
        self._consume = client.register_script(CONSUME)
        self._wrong_guess = client.register_script(WRONG_GUESS)

    @staticmethod
    def _keys(mobile: str) -> list[str]:
        return [f"sms:cooldown:{mobile}", f"sms:code:{mobile}", f"sms:attempts:{mobile}"]

    def claim(self, mobile: str, token: str, digest: str, interval: int, ttl: int) -> int:
        """Start the cooldown and store the code digest, atomically.

        Returns 0 on success, else the seconds left of the running cooldown.
        """
        return int(self._claim(self._keys(mobile), [token, interval, digest, ttl]))

    def release(self, mobile: str, token: str, digest: str) -> None:
        """Undo a claim whose SMS could not be enqueued."""
        cooldown, code, _ = self._keys(mobile)
        self._release([cooldown, code], [token, digest])

    def current_digest(self, mobile: str) -> str | None:
        """The stored digest of the live code, or None."""
        value = self.client.get(self._keys(mobile)[1])
        return value.decode() if value is not None else None

    def consume(self, mobile: str, digest: str) -> bool:
        """Use the code up if it is still ``digest``; True for the one winner."""
        return bool(self._consume(self._keys(mobile)[1:], [digest]))

    def wrong_guess(self, mobile: str, digest: str, max_attempts: int) -> int:
        """Count a wrong guess; attempts left (0 = burned, -1 = already gone)."""
        return int(self._wrong_guess(self._keys(mobile)[1:], [digest, max_attempts]))


class SendLedger:
    """Which sends went out, by task id: a redelivered message is not sent twice.

    The mark outlives any redelivery (those come within the broker's
    visibility timeout). The lock outlives one provider call (the SDK gives
    up after 2 s + 5 s) and is released as soon as the call is over; when
    its process died mid-send, the redelivered message waits for it to lapse.
    """

    SENT_TTL = 3600
    LOCK_TTL = 10

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._begin = client.register_script(BEGIN_SEND)

    @staticmethod
    def _keys(send_id: str) -> list[str]:
        return [f"sms:sent:{send_id}", f"sms:sending:{send_id}"]

    def begin(self, send_id: str, owner: str) -> str:
        """'go', 'sent' or 'busy' (see BEGIN_SEND)."""
        return self._begin(self._keys(send_id), [owner, self.LOCK_TTL]).decode()

    def finish(self, send_id: str, sent: bool) -> None:
        """Release the lock; remember the send if it went out."""
        sent_key, lock_key = self._keys(send_id)
        with self.client.pipeline() as pipe:
            if sent:
                pipe.set(sent_key, 1, ex=self.SENT_TTL)
            pipe.delete(lock_key)
            pipe.execute()
