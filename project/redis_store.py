"""Redis: the client, every key name and every Lua script of the service.

Each operation that must be atomic across many web processes is one Lua
script, so a reader finds the whole storage protocol in this file. Every
script touches the keys of one Redis Cluster slot only: a mobile's keys
carry the mobile as hash tag (``sms:{13800138000}:code``), a send's its id,
and service-wide counters are never touched inside a script: the abuse
defence's (``Reservation``) ride in the claim's pipeline as separate
commands, the metrics follow it. Before the claim, one pipelined read
(``AbuseStore.read``) lets a refusal happen before anything is written. The
same code runs on one Redis, on the master Sentinel names, and on a Redis
Cluster (``REDIS_CLUSTER_NODES``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from redis import Redis, RedisError
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.cluster import ClusterNode, RedisCluster
from redis.commands.core import Script
from redis.exceptions import ReadOnlyError
from redis.retry import Retry
from redis.sentinel import Sentinel

EXTENSION = "redis"
STORE = "sms_code_store"
LEDGER = "sms_send_ledger"
ABUSE = "sms_abuse_store"

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
    """Create the app's Redis client (short time-outs), code store, send ledger, abuse store."""
    client = connect(app.config)
    app.extensions[EXTENSION] = client
    app.extensions[STORE] = CodeStore(client)
    app.extensions[LEDGER] = SendLedger(
        client, app.config["SMS_SEND_LOCK_TTL"], keep=app.config["SMS_REPORT_TTL"]
    )
    app.extensions[ABUSE] = AbuseStore(client)


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


def get_abuse_store(app: Flask | None = None) -> AbuseStore:
    """The abuse-defence counters of ``app`` (default: the current app)."""
    return (app or current_app).extensions[ABUSE]


def today(now: datetime | None = None) -> str:
    """The calendar day in Beijing, ``YYYY-MM-DD``."""
    return (now or datetime.now(TIMEZONE)).astimezone(TIMEZONE).date().isoformat()


def seconds_until_tomorrow(now: datetime | None = None) -> int:
    now = (now or datetime.now(TIMEZONE)).astimezone(TIMEZONE)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), TIMEZONE)
    return max(1, int((midnight - now).total_seconds()) + 1)


def metrics_day_key(day: str) -> str:
    return f"sms:metrics:day:{day}"


def in_pipeline(pipe: Pipeline, script: Script, keys: list, args: list) -> None:
    """Queue ``script`` onto ``pipe``, on one Redis and on a Redis Cluster alike.

    The script travels with EVAL (Redis caches it compiled by its digest).
    EVALSHA would not save that: a cluster pipeline refuses it (it cannot
    load a missing script mid-pipeline), and on one Redis, redis-py sends
    SCRIPT EXISTS before every pipeline holding one: a round trip more than
    the few hundred bytes of the script cost (``make profile``).
    """
    pipe.execute_command("EVAL", script.script, len(keys), *keys, *args)


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

ISSUED, COOLDOWN, DAILY_CAP = 0, 1, 2
# The counter each claim outcome adds to, beside codes_requested.
ISSUED_COUNTER = "codes_issued"
OUTCOME_COUNTERS = {
    ISSUED: ISSUED_COUNTER,
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
    def _cooldown_key(mobile: str) -> str:
        """One cooldown per mobile, whatever the purpose: one SMS a minute per phone."""
        return f"sms:{{{mobile}}}:cooldown"

    @classmethod
    def _code_keys(cls, mobile: str, purpose: str) -> tuple[str, str, str]:
        """Cooldown, code and attempts (one slot: the mobile's); code and guesses per purpose."""
        return (
            cls._cooldown_key(mobile),
            f"sms:{{{mobile}}}:code:{purpose}",
            f"sms:{{{mobile}}}:attempts:{purpose}",
        )

    @staticmethod
    def _daily_key(mobile: str, day: str) -> str:
        return f"sms:{{{mobile}}}:daily:{day}"

    def claim(
        self,
        mobile: str,
        purpose: str,
        token: str,
        digest: str,
        interval: int,
        ttl: int,
        daily_limit: int,
        reservation: Reservation | None = None,
    ) -> Claim:
        """Check cooldown and daily cap, then store the code digest: all at once.

        A ``reservation`` of the service-wide counters rides in the same
        round trip, as separate commands (they live in other cluster slots).
        """
        now = datetime.now(TIMEZONE)
        day = today(now)
        keys = [*self._code_keys(mobile, purpose), self._daily_key(mobile, day)]
        args = [token, interval, digest, ttl, daily_limit, seconds_until_tomorrow(now)]
        with self.client.pipeline(transaction=False) as pipe:
            if reservation is not None:
                reservation.queue(pipe)
            taken = len(pipe)
            in_pipeline(pipe, self._claim, keys, args)
            # Counted as issued in the same round trip (most claims are);
            # a refusal corrects it below, at the cost of a round trip of its own.
            add_counts(pipe, "codes_requested", ISSUED_COUNTER)
            results = pipe.execute(raise_on_error=False)
        counts, result = results[:taken], results[taken]
        for answer in (*counts, result):  # the counters after them may fail alone
            if isinstance(answer, Exception):
                raise answer
        if reservation is not None:
            reservation.took(counts)
        outcome, wait = (int(n) for n in result)
        if wait < 0:  # a repeat (redis-py's retry) of a claim already counted
            self._count("codes_requested", ISSUED_COUNTER, by=-1)
        elif outcome != ISSUED:
            self._count(ISSUED_COUNTER, by=-1, also=OUTCOME_COUNTERS[outcome])
        return Claim(outcome, max(0, wait))

    def put_fixed(self, mobile: str, purpose: str, digest: str, ttl: int) -> None:
        """Store a test number's fixed code: no cooldown, no cap, counted apart."""
        _, code, attempts = self._code_keys(mobile, purpose)
        with self.client.pipeline(transaction=False) as pipe:
            pipe.set(code, digest, ex=ttl)
            pipe.delete(attempts)
            add_counts(pipe, "test_codes_issued")
            pipe.execute()

    def release(self, mobile: str, purpose: str, token: str, digest: str) -> None:
        """Undo a claim whose SMS could not be enqueued."""
        cooldown, code, _ = self._code_keys(mobile, purpose)
        if self._release([cooldown, code, self._daily_key(mobile, today())], [token, digest]):
            self._count("codes_issued", by=-1)

    def _count(self, *names: str, by: int = 1, also: str | None = None) -> None:
        """Service-wide counters, outside the per-mobile scripts (another slot):
        ``by`` on each of ``names``, and +1 on ``also``.

        A counter is worth less than the code it counts: Redis failing here
        does not fail the issue.
        """
        try:
            with self.client.pipeline(transaction=False) as pipe:
                add_counts(pipe, *names, by=by)
                if also is not None:
                    add_counts(pipe, also)
                pipe.execute()
        except RedisError:
            pass

    def current_digest(self, mobile: str, purpose: str) -> str | None:
        """The stored digest of the purpose's live code, or None."""
        value = self.client.get(self._code_keys(mobile, purpose)[1])
        return value.decode() if value is not None else None

    def consume(self, mobile: str, purpose: str, digest: str) -> bool:
        """Use the code up if it is still ``digest``; True for the one winner."""
        return bool(self._consume(list(self._code_keys(mobile, purpose)[1:]), [digest]))

    def wrong_guess(self, mobile: str, purpose: str, digest: str, max_attempts: int) -> int:
        """Count a wrong guess; attempts left (0 = burned, -1 = already gone)."""
        keys = list(self._code_keys(mobile, purpose)[1:])
        return int(self._wrong_guess(keys, [digest, max_attempts]))

    @staticmethod
    def _redeemed_key(mobile: str, token_id: str) -> str:
        return f"sms:{{{mobile}}}:redeemed:{token_id}"

    def redeem(self, mobile: str, token_id: str, lifetime: int) -> bool:
        """Mark a verification token redeemed; True for the one first caller.

        SET NX is atomic: of concurrent redeems exactly one sets the mark. It
        lives as long as the token could still be presented, then goes.
        """
        return bool(self.client.set(self._redeemed_key(mobile, token_id), 1, nx=True, ex=lifetime))


def hour_label(now: datetime) -> str:
    """The clock hour in Beijing, ``YYYY-MM-DDTHH``: the window of the hourly counters."""
    return now.astimezone(TIMEZONE).strftime("%Y-%m-%dT%H")


def seconds_until_next_hour(now: datetime) -> int:
    return max(1, 3600 - (now.minute * 60 + now.second))


# A captcha id as /captcha hands it out; anything else is never looked up.
CAPTCHA_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
ALARM_KEY = "sms:conversion:alarm"


@dataclass(frozen=True)
class Signals:
    """What one read tells the abuse defence before a send (see AbuseStore.read)."""

    cooldown: int  # seconds left of the mobile's cooldown (0: none)
    alarm: bool
    ip_hour: float  # codes to the address over the last hour (sliding estimate)
    range_hour: float  # codes to the number range over the last hour (sliding estimate)
    issued_hour: int  # codes the service issued this clock hour
    issued_day: int  # codes the service issued this Beijing day
    captcha_digest: str | None  # the presented captcha's answer digest, now used up


@dataclass
class Reservation:
    """Service-wide counters taken for one send before its claim, given back if refused.

    Taking them with INCR makes budgets exact: of any number of concurrent
    sends, only those whose INCR stayed within the budget go on.
    """

    hour_key: str
    day_key: str
    ip_key: str | None
    range_key: str | None
    issued_hour: int = 0
    issued_day: int = 0

    def queue(self, pipe: Pipeline) -> None:
        pipe.hincrby(self.hour_key, "codes_issued", 1)
        pipe.expire(self.hour_key, AbuseStore.HOUR_KEEP)
        pipe.incr(self.day_key)
        pipe.expire(self.day_key, 2 * 86400)
        for key in filter(None, (self.ip_key, self.range_key)):
            pipe.incr(key)
            pipe.expire(key, AbuseStore.HOUR_KEEP)

    def took(self, results: list[int]) -> None:
        self.issued_hour, self.issued_day = int(results[0]), int(results[2])


class AbuseStore:
    """Counters of the abuse defence: captchas, risk, conversion and budgets.

    Every counter is a plain key or hash per clock hour (or Beijing day),
    none inside a per-mobile script, so each lives in its own cluster slot.
    Risk counts over "the last hour" are sliding estimates: this hour's count
    plus the previous hour's, weighted by how much of it is still in range.
    """

    HOUR_KEEP = 3 * 3600

    def __init__(self, client: Redis) -> None:
        self.client = client

    @staticmethod
    def _captcha_key(captcha_id: str) -> str:
        return f"sms:captcha:{captcha_id}"

    @staticmethod
    def hour_key(hour: str) -> str:
        return f"sms:hour:{hour}"

    @staticmethod
    def _day_key(day: str) -> str:
        return f"sms:issued:day:{day}"

    @staticmethod
    def _ip_key(ip: str, hour: str) -> str:
        return f"sms:risk:ip:{ip}:{hour}"

    @staticmethod
    def _range_key(prefix: str, hour: str) -> str:
        return f"sms:risk:range:{prefix}:{hour}"

    def put_captcha(self, captcha_id: str, digest: str, ttl: int) -> None:
        self.client.set(self._captcha_key(captcha_id), digest, ex=ttl)

    def read(
        self,
        now: datetime,
        mobile: str,
        ip: str | None,
        prefix: str | None,
        captcha_id: str | None,
    ) -> Signals:
        """One round trip of reads (and the captcha's GETDEL) before any write.

        The mobile's cooldown is read too, so that a send inside it (SMS
        bombing of one number) is refused here, before any counter moves.
        ``prefix`` None (SMS_CAPTCHA is not auto) skips the risk counters.
        """
        risk = prefix is not None
        hour, previous = hour_label(now), hour_label(now - timedelta(hours=1))
        weight = 1 - (now.minute * 60 + now.second) / 3600
        with self.client.pipeline(transaction=False) as pipe:
            pipe.ttl(CodeStore._cooldown_key(mobile))
            pipe.hget(self.hour_key(hour), "codes_issued")
            pipe.get(self._day_key(today(now)))
            if captcha_id is not None:
                pipe.getdel(self._captcha_key(captcha_id))
            if risk:
                pipe.exists(ALARM_KEY)
                pipe.get(self._range_key(prefix, hour))
                pipe.get(self._range_key(prefix, previous))
                if ip is not None:
                    pipe.get(self._ip_key(ip, hour))
                    pipe.get(self._ip_key(ip, previous))
            results = iter(pipe.execute())
        cooldown = max(0, int(next(results)))  # -2: no key; -1 cannot happen (SET EX)
        issued_hour, issued_day = int(next(results) or 0), int(next(results) or 0)
        digest = next(results) if captcha_id is not None else None
        alarm, range_hour, ip_hour = False, 0.0, 0.0
        if risk:
            alarm = bool(next(results))
            range_hour = int(next(results) or 0) + weight * int(next(results) or 0)
            if ip is not None:
                ip_hour = int(next(results) or 0) + weight * int(next(results) or 0)
        return Signals(
            cooldown=cooldown,
            alarm=alarm,
            ip_hour=ip_hour,
            range_hour=range_hour,
            issued_hour=issued_hour,
            issued_day=issued_day,
            captcha_digest=digest.decode() if digest is not None else None,
        )

    def reservation(self, now: datetime, ip: str | None, prefix: str | None) -> Reservation:
        hour = hour_label(now)
        return Reservation(
            hour_key=self.hour_key(hour),
            day_key=self._day_key(today(now)),
            ip_key=self._ip_key(ip, hour) if ip is not None else None,
            range_key=self._range_key(prefix, hour) if prefix is not None else None,
        )

    def give_back(self, reservation: Reservation) -> None:
        """Undo a reservation whose send was refused or could not be enqueued."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hincrby(reservation.hour_key, "codes_issued", -1)
            pipe.decr(reservation.day_key)
            for key in filter(None, (reservation.ip_key, reservation.range_key)):
                pipe.decr(key)
            pipe.execute()

    def count_verified(self, now: datetime) -> None:
        """A code was verified: this hour's conversion and the all-time counters."""
        hour_key = self.hour_key(hour_label(now))
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hincrby(hour_key, "codes_verified", 1)
            pipe.expire(hour_key, self.HOUR_KEEP)
            add_counts(pipe, "codes_verified")
            pipe.execute()

    def last_hour(self, now: datetime) -> tuple[float, float]:
        """Codes issued and verified over the last hour (sliding estimate)."""
        weight = 1 - (now.minute * 60 + now.second) / 3600
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hmget(self.hour_key(hour_label(now)), "codes_issued", "codes_verified")
            pipe.hmget(
                self.hour_key(hour_label(now - timedelta(hours=1))),
                "codes_issued",
                "codes_verified",
            )
            (issued, verified), (prev_issued, prev_verified) = pipe.execute()
        return (
            int(issued or 0) + weight * int(prev_issued or 0),
            int(verified or 0) + weight * int(prev_verified or 0),
        )

    def alarm_on(self) -> bool:
        return bool(self.client.exists(ALARM_KEY))

    def raise_alarm(self) -> bool:
        """Turn the conversion alarm on; True if it was off."""
        return bool(self.client.set(ALARM_KEY, 1, nx=True))

    def clear_alarm(self) -> bool:
        """Turn the conversion alarm off; True if it was on."""
        return bool(self.client.delete(ALARM_KEY))

    def first_in_window(self, name: str, window: str, ttl: int) -> bool:
        """True for the first caller of ``name`` in ``window``, service-wide."""
        return bool(self.client.set(f"sms:once:{name}:{window}", 1, nx=True, ex=ttl))

    def issued_now(self, now: datetime) -> tuple[int, int]:
        """Codes issued this clock hour and this Beijing day: what the budgets count."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hget(self.hour_key(hour_label(now)), "codes_issued")
            pipe.get(self._day_key(today(now)))
            hour, day = pipe.execute()
        return int(hour or 0), int(day or 0)


# ----- providers: circuit breakers, send records, delivery reports ---------

BREAKER_KEEP = 86400
REPORT_METRICS_KEY = "sms:metrics:reports"
# Histograms keep each bucket's own count (see ``observe``).
DELIVERY_SECONDS_KEY = "sms:metrics:delivery_seconds:by_bucket"
PROVIDER_SENDS_KEY = "sms:metrics:provider_sends"
PROVIDER_LATENCY_KEY = "sms:metrics:provider_latency:by_bucket"
# Upper bounds (seconds) of the histograms' buckets.
DELIVERY_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SENDS_PER_MOBILE = 20

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS: the provider's breaker. ARGV: cool-down seconds, probe lease seconds.
# 'closed' (send), 'open' (skip) or 'probe' (send: the one probe after the
# cool-down; others skip until its lease lapses or its outcome is recorded).
# Redis's clock, so every worker agrees.
BREAKER_ALLOW = (
    _NOW
    + """
local opened = redis.call('HGET', KEYS[1], 'opened_at')
if not opened then return 'closed' end
if now - tonumber(opened) < tonumber(ARGV[1]) then return 'open' end
if tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0') > now then return 'open' end
redis.call('HSET', KEYS[1], 'probe_until', now + tonumber(ARGV[2]))
return 'probe'
"""
)

# KEYS: the provider's breaker. ARGV: failures to open, keep. A failure
# counts, and opens it at the threshold (or re-opens it when it was open: a
# failed probe starts a new cool-down). A success closes it: a plain DEL
# (``CircuitBreakers.queue_record``).
BREAKER_FAILURE = (
    _NOW
    + """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
if redis.call('HEXISTS', KEYS[1], 'opened_at') == 1 or failures >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'opened_at', tostring(now))
  redis.call('HDEL', KEYS[1], 'probe_until')
  return 'open'
end
return 'closed'
"""
)

# KEYS: a send's sent mark, in-flight lock and record (one slot: the send
# id's). ARGV: lock owner, lock seconds, masked mobile, now, keep, first
# choice of provider. {'sent'} if this send already went out; {'busy'} if
# another delivery of the same message is sending it now; else the lock is
# ours, the record exists (queued), and {'go', pin, fresh}: the provider the
# send is tied to, fresh 1 when tied here to the first choice rather than by
# an earlier attempt.
SEND_BEGIN = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {'sent'} end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2])
   and redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return {'busy'}
end
if redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('HSET', KEYS[3], 'mobile', ARGV[3], 'state', 'queued', 'queued_at', ARGV[4])
end
redis.call('EXPIRE', KEYS[3], ARGV[5])
local pin = redis.call('HGET', KEYS[3], 'pin')
if pin then return {'go', pin, 0} end
if ARGV[6] == '' then return {'go', '', 0} end
redis.call('HSET', KEYS[3], 'pin', ARGV[6])
return {'go', ARGV[6], 1}
"""

# A send's record moves only forward (queued, sent, delivered or failed): a
# repeated or late report changes nothing. Returns {provider, sent_at} when
# it moved.
_FORWARD = """
local function forward(key, state, fields)
  local rank = {queued = 0, sent = 1, delivered = 2, failed = 2}
  local current = redis.call('HGET', key, 'state')
  if not current or rank[current] >= rank[state] then return false end
  redis.call('HSET', key, 'state', state, unpack(fields))
  return {redis.call('HGET', key, 'provider') or '', redis.call('HGET', key, 'sent_at') or ''}
end
"""

# KEYS: a send's record. ARGV: new state, then field, value pairs.
SEND_ADVANCE = _FORWARD + "return forward(KEYS[1], ARGV[1], {unpack(ARGV, 2)})"

# KEYS: a send's sent mark, lock and record. ARGV: seconds to keep the sent
# mark (0: it did not go out), the record's new state ('' for none), then
# field, value pairs. Ends an attempt: the mark, if any, is set before the
# lock goes, at once.
SEND_FINISH = (
    _FORWARD
    + """
if ARGV[1] ~= '0' then redis.call('SET', KEYS[1], 1, 'EX', ARGV[1]) end
redis.call('DEL', KEYS[2])
if ARGV[2] ~= '' then forward(KEYS[3], ARGV[2], {unpack(ARGV, 3)}) end
return 1
"""
)


def observe(
    pipe: Pipeline, key: str, provider: str, seconds: float, buckets: tuple[float, ...]
) -> None:
    """Queue one observation of a per-provider histogram: its bucket, and the sum.

    Only the one bucket the observation falls in is counted (two commands, not
    one per bound): the scrape adds them up into Prometheus' cumulative form.
    """
    bound = next((bound for bound in buckets if seconds <= bound), float("inf"))
    pipe.hincrby(key, f"{provider}:{bound}", 1)
    pipe.hincrbyfloat(key, f"{provider}:sum", seconds)


@dataclass(frozen=True)
class ProviderCall:
    """One call to a provider, as its breaker and the per-provider metrics count it."""

    provider: str
    ok: bool  # no trouble of the vendor's (a definite answer about this message)
    outcome: str  # sent, retry, give_up or failover
    seconds: float


class CircuitBreakers:
    """One breaker per provider, in Redis so that every worker sees the same state."""

    def __init__(self, client: Redis, failures: int, cooldown: float, probe_lease: float) -> None:
        self.client = client
        self.failures, self.cooldown, self.probe_lease = failures, cooldown, probe_lease
        self._allow = client.register_script(BREAKER_ALLOW)
        self._failure = client.register_script(BREAKER_FAILURE)

    @staticmethod
    def _key(provider: str) -> str:
        return f"sms:breaker:{{{provider}}}"

    def allow(self, provider: str) -> str:
        """'closed' or 'probe' (go ahead) or 'open' (skip this provider)."""
        return self._allow([self._key(provider)], [self.cooldown, self.probe_lease]).decode()

    def queue_opened(self, pipe: Pipeline, providers: Sequence[str]) -> None:
        """Queue whether each breaker has opened: a read, so it can ride ahead of a send.

        A breaker that never opened is closed and needs no ``allow``, the
        common case; one that did is asked (it may be due a probe).
        """
        for provider in providers:
            pipe.hexists(self._key(provider), "opened_at")

    def queue_record(self, pipe: Pipeline, call: ProviderCall) -> None:
        """Queue the call's outcome for the breaker, its count and latency by provider."""
        provider, key = call.provider, self._key(call.provider)
        if call.ok:
            pipe.delete(key)
        else:
            in_pipeline(pipe, self._failure, [key], [self.failures, BREAKER_KEEP])
        pipe.hincrby(PROVIDER_SENDS_KEY, f"{provider}:{call.outcome}", 1)
        observe(pipe, PROVIDER_LATENCY_KEY, provider, call.seconds, LATENCY_BUCKETS)

    def state(self, provider: str) -> str:
        """'closed', 'open' or 'half_open' (cool-down over: the next call probes)."""
        opened = self.client.hget(self._key(provider), "opened_at")
        if opened is None:
            return "closed"
        seconds, micros = self.client.time()
        now = seconds + micros / 1e6
        return "open" if now - float(opened) < self.cooldown else "half_open"


@dataclass(frozen=True)
class Begun:
    """What ``SendLedger.begin`` found: whether to send, and where."""

    state: str  # 'go' (the lock is ours), 'sent' (already went out) or 'busy'
    pin: str | None = None  # the provider the send is tied to
    fresh: bool = False  # tied just now to the first choice, not by an earlier attempt
    opened: frozenset[str] = frozenset()  # providers whose breaker must be asked first


class SendLedger:
    """Each send by task id: its sent mark, its lock and its record.

    The mark makes a redelivered message send nothing: it outlives any
    redelivery (those come within the broker's visibility timeout). The lock
    outlives one provider call (bounded by ``SMS_PROVIDER_TIMEOUT`` on every
    pool; ``SMS_SEND_LOCK_TTL`` is that plus a margin) and is released as
    soon as the attempt is over; when its process died mid-send, the
    redelivered message waits for it to lapse. The record (provider, pin,
    state, delivery report) is found by send id, mobile or message id.

    All three share the send id's slot, so an attempt costs two round trips
    when all goes well: ``begin`` before the provider call, ``finish`` after.
    """

    SENT_TTL = 3600

    def __init__(self, client: Redis, lock_ttl: int, keep: int) -> None:
        self.client, self.lock_ttl, self.keep = client, lock_ttl, keep
        self._begin = client.register_script(SEND_BEGIN)
        self._advance = client.register_script(SEND_ADVANCE)
        self._finish = client.register_script(SEND_FINISH)

    @staticmethod
    def _key(send_id: str) -> str:
        return f"sms:send:{{{send_id}}}"

    @classmethod
    def _keys(cls, send_id: str) -> list[str]:
        """The sent mark, the lock and the record."""
        record = cls._key(send_id)
        return [f"{record}:sent", f"{record}:lock", record]

    @staticmethod
    def _mobile_key(mobile: str) -> str:
        return f"sms:{{{mobile}}}:sends"

    @staticmethod
    def _message_key(provider: str, message_id: str) -> str:
        return f"sms:msgid:{{{provider}:{message_id}}}"

    def begin(
        self,
        send_id: str,
        owner: str,
        mobile: str,
        masked: str,
        breakers: CircuitBreakers,
        providers: Sequence[str],
    ) -> Begun:
        """Take the send's lock, record it under its mobile, tie it to the first of ``providers``.

        One round trip, which also reads which of ``providers``' breakers have opened.
        Tying the send to its first choice before the call means a crash
        mid-call leaves it tied there, so a redelivery never sends elsewhere.
        """
        mobile_key = self._mobile_key(mobile)
        first = providers[0] if providers else ""
        args = [owner, self.lock_ttl, masked, time.time(), self.keep, first]
        with self.client.pipeline(transaction=False) as pipe:
            in_pipeline(pipe, self._begin, self._keys(send_id), args)
            pipe.lpush(mobile_key, send_id)  # a redelivery again: last_sends skips repeats
            pipe.ltrim(mobile_key, 0, SENDS_PER_MOBILE - 1)
            pipe.expire(mobile_key, self.keep)
            breakers.queue_opened(pipe, providers)
            results = pipe.execute()
        begun, opened = results[0], results[-len(providers) :] if providers else []
        state = begun[0].decode()
        if state != "go":
            return Begun(state)
        return Begun(
            state,
            pin=begun[1].decode() or None,
            fresh=bool(begun[2]),
            opened=frozenset(p for p, was in zip(providers, opened, strict=True) if was),
        )

    def pin(self, send_id: str, provider: str | None) -> None:
        """Tie the send to ``provider`` before calling it (None: it certainly did not take it)."""
        if provider:
            self.client.hset(self._key(send_id), "pin", provider)
        else:
            self.client.hdel(self._key(send_id), "pin")

    def finish(
        self,
        send_id: str,
        counter: str,
        *,
        breakers: CircuitBreakers,
        calls: Sequence[ProviderCall] = (),
        sent_by: tuple[str, str | None] | None = None,
        failure: str | None = None,
    ) -> None:
        """End an attempt in one round trip: release the lock and count ``counter``.

        ``sent_by`` (provider, message id): it went out; marked for good and
        recorded. ``failure``: given up, recorded so. ``calls`` are counted
        against their ``breakers``.
        """
        if sent_by is not None:
            provider, message_id = sent_by
            fields = ["provider", provider, "sent_at", time.time(), "message_id", message_id or ""]
            args = [self.SENT_TTL, "sent", *fields]
        else:
            args = [0, *(("failed", "failure", failure) if failure is not None else ("",))]
        with self.client.pipeline(transaction=False) as pipe:
            for call in calls:
                breakers.queue_record(pipe, call)
            in_pipeline(pipe, self._finish, self._keys(send_id), args)
            if sent_by is not None and sent_by[1]:
                pipe.set(self._message_key(*sent_by), send_id, ex=self.keep)
            add_counts(pipe, counter)
            pipe.execute()

    def report(
        self, provider: str, message_id: str, state: str, code: str, at: float
    ) -> tuple[str, float | None]:
        """Apply a delivery report: ('unknown' | 'duplicate' | state, seconds since sent)."""
        send_id = self.client.get(self._message_key(provider, message_id))
        if send_id is None:
            return "unknown", None
        moved = self._advance(
            [self._key(send_id.decode())], [state, "report_code", code, "reported_at", at]
        )
        if not moved:
            return "duplicate", None
        sent_at = moved[1].decode()
        return state, (max(0.0, at - float(sent_at)) if sent_at else None)

    def count_report(self, provider: str, outcome: str, seconds: float | None) -> None:
        """Count a report by provider and outcome; a delivery also into the histogram."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hincrby(REPORT_METRICS_KEY, f"{provider}:{outcome}", 1)
            if seconds is not None and outcome == "delivered":
                observe(pipe, DELIVERY_SECONDS_KEY, provider, seconds, DELIVERY_BUCKETS)
            pipe.execute()

    def last_sends(self, mobile: str) -> list[dict[str, str]]:
        """The mobile's latest sends, newest first (records that expired are left out)."""
        ids = list(dict.fromkeys(self.client.lrange(self._mobile_key(mobile), 0, -1)))
        with self.client.pipeline(transaction=False) as pipe:
            for send_id in ids:
                pipe.hgetall(self._key(send_id.decode()))
            rows = pipe.execute()
        return [
            {"id": send_id.decode(), **{k.decode(): v.decode() for k, v in row.items()}}
            for send_id, row in zip(ids, rows, strict=True)
            if row
        ]
