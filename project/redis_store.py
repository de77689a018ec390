"""Redis: the client, every key name and every Lua script of the service.

Each operation that must be atomic across many web processes is one Lua
script, so a reader finds the whole storage protocol in this file. Every
script touches the keys of one Redis Cluster slot only: a mobile's keys
carry the mobile as hash tag (``sms:{13800138000}:code``), a send's its id,
and service-wide counters are never touched inside a script (they follow in
a pipeline). The same code runs on one Redis, on the master Sentinel names,
and on a Redis Cluster (``REDIS_CLUSTER_NODES``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from redis import Redis, RedisError
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ReadOnlyError
from redis.retry import Retry
from redis.sentinel import Sentinel

EXTENSION = "redis"
STORE = "sms_code_store"
LEDGER = "sms_send_ledger"

# RongLian counts its caps per calendar day in Beijing; so do we.
TIMEZONE = ZoneInfo("Asia/Shanghai")
METRICS_KEY = "sms:metrics"
METRICS_DAY_KEEP = 35 * 86400
# celery-redbeat keeps beat's schedule (each entry's last run) and the lock
# that lets one beat of many act under this prefix (applied in celery_app.py).
BEAT_KEY_PREFIX = "sms:beat:"
BEAT_LOCK_KEY = "sms:beat:lock"


def connect(config: dict) -> Redis | RedisCluster:
    """The code store's client: a Redis Cluster, Sentinel's master, or one Redis.

    redis-py retries ten times with back-off by default; one immediate retry
    keeps a request fast when Redis is down yet survives a stale pooled
    connection after a Redis restart or a failover (the claim script is safe
    to repeat). Under Sentinel every new connection asks the sentinels for
    the master, and a connection to a demoted master (READONLY) is dropped:
    a failover is a few seconds of 503s until a replica is promoted.
    """
    timeout = config["REDIS_SOCKET_TIMEOUT"]
    options = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    if config["REDIS_CLUSTER_NODES"]:
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in config["REDIS_CLUSTER_NODES"]],
            retry=Retry(NoBackoff(), 1),
            **options,
        )
    if config["REDIS_SENTINELS"]:
        sentinel = Sentinel(config["REDIS_SENTINELS"], sentinel_kwargs=options, **options)
        return sentinel.master_for(
            config["REDIS_SENTINEL_MASTER"],
            db=config["REDIS_DB"],
            retry=Retry(NoBackoff(), 1),
            health_check_interval=30,
            **options,
        )
    return Redis.from_url(
        config["REDIS_URL"], retry=Retry(NoBackoff(), 1), health_check_interval=30, **options
    )


def init_app(app: Flask) -> None:
    """Create the app's Redis client (short time-outs), code store and send ledger."""
    client = connect(app.config)
    app.extensions[EXTENSION] = client
    app.extensions[STORE] = CodeStore(client)
    app.extensions[LEDGER] = SendLedger(client, app.config["SMS_SEND_LOCK_TTL"])


def reset_after(exc: BaseException, app: Flask | None = None) -> None:
    """After READONLY (a master demoted by a failover) drop the pooled connections.

    The next command connects afresh and so reaches whichever server the
    address (or Sentinel) now names as master, instead of the demoted one.
    """
    # A RedisCluster client has no one pool: it re-reads the slot map itself.
    pool = getattr(get_redis(app), "connection_pool", None)
    if isinstance(exc, ReadOnlyError) and pool is not None:
        pool.disconnect()


def get_redis(app: Flask | None = None) -> Redis:
    """The Redis client of ``app`` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]


def get_store(app: Flask | None = None) -> CodeStore:
    """The code store of ``app`` (default: the current app)."""
    return (app or current_app).extensions[STORE]


def get_ledger(app: Flask | None = None) -> SendLedger:
    """The send ledger of ``app`` (default: the current app)."""
    return (app or current_app).extensions[LEDGER]


def today(now: datetime | None = None) -> str:
    """The calendar day in Beijing, ``YYYY-MM-DD``."""
    return (now or datetime.now(TIMEZONE)).astimezone(TIMEZONE).date().isoformat()


def seconds_until_tomorrow(now: datetime | None = None) -> int:
    now = (now or datetime.now(TIMEZONE)).astimezone(TIMEZONE)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), TIMEZONE)
    return max(1, int((midnight - now).total_seconds()) + 1)


def metrics_day_key(day: str) -> str:
    return f"sms:metrics:day:{day}"


def add_counts(pipe: Pipeline, *names: str, by: int = 1) -> None:
    """Queue +``by`` on each counter, all-time and today's, onto ``pipe``."""
    day_key = metrics_day_key(today())
    for name in names:
        pipe.hincrby(METRICS_KEY, name, by)
        pipe.hincrby(day_key, name, by)
    pipe.expire(day_key, METRICS_DAY_KEEP)


# KEYS: cooldown, code, attempts, daily count (one mobile: one slot).
# ARGV: claim token, interval, code digest, ttl, daily limit, seconds to
# midnight. Returns {0, 0} when the code is issued, {0, -1} when a retried
# call finds its own token (already issued, already counted), {1, seconds}
# during a cooldown, {2, seconds} when the mobile's daily cap is reached.
CLAIM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return {0, -1} end
local left = redis.call('TTL', KEYS[1])
if left ~= -2 then
  if left < 1 then left = 1 end
  return {1, left}
end
if tonumber(redis.call('GET', KEYS[4]) or '0') >= tonumber(ARGV[5]) then
  return {2, math.max(1, redis.call('TTL', KEYS[4]))}
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
redis.call('DEL', KEYS[3])
redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], ARGV[6])
return {0, 0}
"""

# KEYS: cooldown, code, daily count. ARGV: token, digest.
# Undoes a claim whose send could not be enqueued, touching nothing newer.
RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
if redis.call('DECR', KEYS[3]) <= 0 then redis.call('DEL', KEYS[3]) end
return 1
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

ISSUED, COOLDOWN, DAILY_CAP = 0, 1, 2
# The counter each claim outcome adds to, beside codes_requested.
OUTCOME_COUNTERS = {
    ISSUED: "codes_issued",
    COOLDOWN: "cooldown_refusals",
    DAILY_CAP: "rate_limit_refusals",
}


@dataclass(frozen=True)
class Claim:
    outcome: int  # ISSUED, COOLDOWN or DAILY_CAP
    wait: int  # seconds until another code may be issued (0 when issued)


class CodeStore:
    """The verification-code records of one Redis, one mobile at a time."""

    def __init__(self, client: Redis | RedisCluster) -> None:
        self.client = client
        self._claim = client.register_script(CLAIM)
        self._release = client.register_script(RELEASE)
        self._consume = client.register_script(CONSUME)
        self._wrong_guess = client.register_script(WRONG_GUESS)

    @staticmethod
    def _code_keys(mobile: str) -> tuple[str, str, str]:
        tag = f"sms:{{{mobile}}}"
        return f"{tag}:cooldown", f"{tag}:code", f"{tag}:attempts"

    @staticmethod
    def _daily_key(mobile: str, day: str) -> str:
        return f"sms:{{{mobile}}}:daily:{day}"

    def claim(
        self, mobile: str, token: str, digest: str, interval: int, ttl: int, daily_limit: int
    ) -> Claim:
        """Check cooldown and daily cap, then store the code digest: all at once."""
        now = datetime.now(TIMEZONE)
        day = today(now)
        keys = [*self._code_keys(mobile), self._daily_key(mobile, day)]
        args = [token, interval, digest, ttl, daily_limit, seconds_until_tomorrow(now)]
        outcome, wait = (int(n) for n in self._claim(keys, args))
        if wait >= 0:  # not a repeat of a claim already counted
            self._count("codes_requested", OUTCOME_COUNTERS[outcome])
        return Claim(outcome, max(0, wait))

    def release(self, mobile: str, token: str, digest: str) -> None:
        """Undo a claim whose SMS could not be enqueued."""
        cooldown, code, _ = self._code_keys(mobile)
        if self._release([cooldown, code, self._daily_key(mobile, today())], [token, digest]):
            self._count("codes_issued", by=-1)

    def _count(self, *names: str, by: int = 1) -> None:
        """Service-wide counters, outside the per-mobile scripts (another slot).

        A counter is worth less than the code it counts: Redis failing here
        does not fail the issue.
        """
        try:
            with self.client.pipeline(transaction=False) as pipe:
                add_counts(pipe, *names, by=by)
                pipe.execute()
        except RedisError:
            pass

    def current_digest(self, mobile: str) -> str | None:
        """The stored digest of the live code, or None."""
        value = self.client.get(self._code_keys(mobile)[1])
        return value.decode() if value is not None else None

    def consume(self, mobile: str, digest: str) -> bool:
        """Use the code up if it is still ``digest``; True for the one winner."""
        return bool(self._consume(list(self._code_keys(mobile)[1:]), [digest]))

    def wrong_guess(self, mobile: str, digest: str, max_attempts: int) -> int:
        """Count a wrong guess; attempts left (0 = burned, -1 = already gone)."""
        return int(self._wrong_guess(list(self._code_keys(mobile)[1:]), [digest, max_attempts]))


class SendLedger:
    """Which sends went out, by task id: a redelivered message is not sent twice.

    The mark outlives any redelivery (those come within the broker's
    visibility timeout). The lock outlives one provider call (bounded by
    ``SMS_PROVIDER_TIMEOUT`` on every pool; ``SMS_SEND_LOCK_TTL`` is that plus
    a margin) and is released as soon as the call is over; when its process
    died mid-send, the redelivered message waits for it to lapse.
    """

    SENT_TTL = 3600

    def __init__(self, client: Redis, lock_ttl: int) -> None:
        self.client = client
        self.lock_ttl = lock_ttl
        self._begin = client.register_script(BEGIN_SEND)

    @staticmethod
    def _keys(send_id: str) -> list[str]:
        return [f"sms:send:{{{send_id}}}:sent", f"sms:send:{{{send_id}}}:lock"]

    def begin(self, send_id: str, owner: str) -> str:
        """'go', 'sent' or 'busy' (see BEGIN_SEND)."""
        return self._begin(self._keys(send_id), [owner, self.lock_ttl]).decode()

    def finish(self, send_id: str, sent: bool, counter: str) -> None:
        """Release the lock, remember the send if it went out, count ``counter``."""
        sent_key, lock_key = self._keys(send_id)
        with self.client.pipeline(transaction=False) as pipe:
            if sent:
                pipe.set(sent_key, 1, ex=self.SENT_TTL)
            pipe.delete(lock_key)
            add_counts(pipe, counter)
            pipe.execute()
