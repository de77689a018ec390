"""Configuration classes, read from the environment.

Each class takes the environment as a mapping so that tests build apps with
the very settings names an operator uses (``create_app({"SMS_CODE_TTL": "5"})``)
and derived values, such as the Celery broker, are always computed from the
final settings rather than frozen at import time.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from celery.schedules import crontab
from kombu import Exchange, Queue
from limits import parse_many

# Keys that were ever written down somewhere public: the development and
# testing defaults, and the placeholder of deploy/sms.env.example.
PLACEHOLDER_KEYS = frozenset(
    {"dev-only-not-secret", "testing-not-secret", "change-me-to-a-long-random-string"}
)
MIN_SECRET_KEY_LENGTH = 32
# kombu sweeps a Redis broker for the sends of dead workers this often (s).
RESTORE_INTERVAL = 5


class ConfigError(Exception):
    """A setting is missing or invalid; the message names it in one line."""


def _number(env: Mapping[str, str], name: str, default: float, kind: type, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        word = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name} must be {word}, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    return _number(env, name, default, int, minimum)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default, float, 0.001)


def _addresses(env: Mapping[str, str], name: str) -> list[tuple[str, int]]:
    """``host:port,host:port`` as a list of pairs; [] when unset."""
    raw = env.get(name) or ""
    found = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{name} must be host:port pairs separated by commas, got {raw!r}")
        found.append((host, int(port)))
    return found


def _amqp(url: str) -> bool:
    return urlsplit(url.split(";", 1)[0]).scheme in {"amqp", "amqps", "pyamqp"}


def _list(env: Mapping[str, str], name: str) -> list[str]:
    return [item.strip() for item in (env.get(name) or "").split(",") if item.strip()]


def _names(env: Mapping[str, str], name: str, default: str) -> list[str]:
    items = [item.strip() for item in (env.get(name) or default).split(",")]
    if not all(items):
        raise ConfigError(f"{name} must be a comma-separated list without empty items")
    return items


def _pairs(env: Mapping[str, str], name: str) -> dict[str, str]:
    """``key:value,key:value`` (``ALIYUN_TEMPLATES=login:SMS_1,register:SMS_2``)."""
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in (env.get(name) or "").split(","))):
        key, sep, value = (part.strip() for part in item.partition(":"))
        if not (sep and key and value):
            raise ConfigError(f"{name} must be purpose:id pairs separated by commas, got {item!r}")
        pairs[key] = value
    return pairs


def endpoint_parts(name: str, value: str) -> tuple[str, str]:
    """``(scheme, host[:port])`` of an endpoint setting: a bare host means https."""
    if "://" not in value:
        scheme, host = "https", value
    else:
        parts = urlsplit(value)
        scheme, host = parts.scheme, parts.netloc
        if scheme not in {"http", "https"} or parts.path.strip("/") or parts.query:
            raise ConfigError(
                f"{name} must be a host or an http(s)://host[:port] URL, got {value!r}"
            )
    if not host or "/" in host:
        raise ConfigError(f"{name} must be a host or an http(s)://host[:port] URL, got {value!r}")
    return scheme, host


def _bool(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


CAPTCHA_MODES = ("off", "auto", "always")
_TEST_NUMBER = re.compile(r"(1[3-9][0-9]{9}):([0-9]{6})")


def _test_numbers(env: Mapping[str, str]) -> dict[str, str]:
    """``SMS_TEST_NUMBERS``: ``mobile:code`` pairs, comma-separated."""
    numbers: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in (env.get("SMS_TEST_NUMBERS") or "").split(","))):
        match = _TEST_NUMBER.fullmatch(pair)
        if match is None:
            # The pair is not echoed: it holds a code, and maybe a real number.
            raise ConfigError(
                "SMS_TEST_NUMBERS must be comma-separated mobile:code pairs "
                "(11-digit mobile, 6-digit code), got a malformed pair"
            )
        mobile, code = match.groups()
        if mobile in numbers:
            raise ConfigError(f"SMS_TEST_NUMBERS lists {mobile[:3]}****{mobile[-4:]} twice")
        numbers[mobile] = code
    return numbers


class Config:
    """Settings shared by every environment, with the contract's defaults."""

    NAME = "base"
    DEBUG = False
    TESTING = False
    DEFAULT_SECRET_KEY: str | None = "dev-only-not-secret"
    DEFAULT_SMS_PROVIDER = "console"

    def __init__(self, env: Mapping[str, str]) -> None:
        self.SECRET_KEY = env.get("SECRET_KEY") or self.DEFAULT_SECRET_KEY
        # Previous keys, still accepted to verify codes and open sealed sends
        # while a new SECRET_KEY rolls out (Flask reads the same setting).
        self.SECRET_KEY_FALLBACKS = _list(env, "SECRET_KEY_FALLBACKS")
        self.REDIS_URL = env.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
        # Seconds for connecting to and talking with Redis: a request must
        # answer 503 quickly instead of hanging when Redis is away.
        self.REDIS_SOCKET_TIMEOUT = _float(env, "REDIS_SOCKET_TIMEOUT", 1.0)
        # Sentinel: every Redis role follows the elected master. Cluster: the
        # code store and the limiter shard over the cluster's masters.
        self.REDIS_SENTINELS = _addresses(env, "REDIS_SENTINELS")
        self.REDIS_SENTINEL_MASTER = env.get("REDIS_SENTINEL_MASTER") or None
        if self.REDIS_SENTINELS and not self.REDIS_SENTINEL_MASTER:
            raise ConfigError("REDIS_SENTINELS needs REDIS_SENTINEL_MASTER to be set")
        if self.REDIS_SENTINEL_MASTER and not self.REDIS_SENTINELS:
            raise ConfigError("REDIS_SENTINEL_MASTER needs REDIS_SENTINELS to be set")
        self.REDIS_CLUSTER_NODES = _addresses(env, "REDIS_CLUSTER_NODES")
        self.REDIS_DB = int(urlsplit(self.REDIS_URL).path.strip("/") or 0)

        # One provider or an ordered chain of them (``ronglian,aliyun``).
        self.SMS_PROVIDERS = [
            name.lower() for name in _names(env, "SMS_PROVIDER", self.DEFAULT_SMS_PROVIDER)
        ]
        self.SMS_PROVIDER = ",".join(self.SMS_PROVIDERS)
        self.SMS_PURPOSES = _names(env, "SMS_PURPOSES", "register,login,reset_password")
        # The circuit breaker of each provider: open after this many failures
        # in a row, let one probe through after the cool-down.
        self.SMS_BREAKER_FAILURES = _int(env, "SMS_BREAKER_FAILURES", 5, minimum=1)
        self.SMS_BREAKER_COOLDOWN = _float(env, "SMS_BREAKER_COOLDOWN", 30.0)
        self.SMS_CALLBACK_TOKEN = env.get("SMS_CALLBACK_TOKEN") or None
        # Seconds a send's record and its delivery report are kept: at least
        # as long as the send ledger's marks (one hour).
        self.SMS_REPORT_TTL = _int(env, "SMS_REPORT_TTL", 7 * 86400, minimum=3600)
        self.ALIYUN_ACCESS_KEY_ID = env.get("ALIYUN_ACCESS_KEY_ID") or None
        self.ALIYUN_ACCESS_KEY_SECRET = env.get("ALIYUN_ACCESS_KEY_SECRET") or None
        self.ALIYUN_SIGN_NAME = env.get("ALIYUN_SIGN_NAME") or None
        self.ALIYUN_TEMPLATES = _pairs(env, "ALIYUN_TEMPLATES")
        # The name of the templates' minutes variable (``${min}``), if they have one.
        self.ALIYUN_MINUTES_VARIABLE = env.get("ALIYUN_MINUTES_VARIABLE") or None
        self.ALIYUN_ENDPOINT = env.get("ALIYUN_ENDPOINT") or "dysmsapi.aliyuncs.com"
        self.TENCENT_SECRET_ID = env.get("TENCENT_SECRET_ID") or None
        self.TENCENT_SECRET_KEY = env.get("TENCENT_SECRET_KEY") or None
        self.TENCENT_SMS_SDK_APP_ID = env.get("TENCENT_SMS_SDK_APP_ID") or None
        self.TENCENT_SIGN_NAME = env.get("TENCENT_SIGN_NAME") or None
        self.TENCENT_TEMPLATES = _pairs(env, "TENCENT_TEMPLATES")
        self.TENCENT_REGION = env.get("TENCENT_REGION") or "ap-guangzhou"
        self.TENCENT_ENDPOINT = env.get("TENCENT_ENDPOINT") or "sms.tencentcloudapi.com"
        self.SMS_ALLOW_CONSOLE = _bool(env, "SMS_ALLOW_CONSOLE")
        self.RONGLIAN_ACC_ID = env.get("RONGLIAN_ACC_ID") or None
        self.RONGLIAN_ACC_TOKEN = env.get("RONGLIAN_ACC_TOKEN") or None
        self.RONGLIAN_APP_ID = env.get("RONGLIAN_APP_ID") or None
        self.RONGLIAN_TEMPLATE_ID = env.get("RONGLIAN_TEMPLATE_ID") or "1"
        self.RONGLIAN_BASE_URL = (
            env.get("RONGLIAN_BASE_URL") or "https://app.cloopen.com:8883"
        ).rstrip("/")
        # Purposes and channels: one RongLian template per purpose (else
        # RONGLIAN_TEMPLATE_ID); the voice code's caller id, plays and language.
        self.RONGLIAN_TEMPLATES = _pairs(env, "RONGLIAN_TEMPLATES")
        self.RONGLIAN_VOICE_DISPLAY_NUM = env.get("RONGLIAN_VOICE_DISPLAY_NUM") or ""
        self.RONGLIAN_VOICE_PLAY_TIMES = _int(env, "RONGLIAN_VOICE_PLAY_TIMES", 2, minimum=1)
        self.RONGLIAN_VOICE_LANG = env.get("RONGLIAN_VOICE_LANG") or "zh"
        # The public base URL RongLian reaches this service at: the voice
        # result notice goes to <it>/callbacks/ronglian/voice (none: no notice).
        self.SMS_PUBLIC_URL = (env.get("SMS_PUBLIC_URL") or "").rstrip("/") or None
        # Verification tokens, and the keys of the backends that redeem them.
        self.SMS_VERIFICATION_TOKEN_TTL = _int(env, "SMS_VERIFICATION_TOKEN_TTL", 600, minimum=1)
        self.SMS_API_KEYS = _list(env, "SMS_API_KEYS")

        # Wall-clock seconds one provider call may take, on every pool. The
        # send lock outlives it, so a slow provider never gets a second send.
        self.SMS_PROVIDER_TIMEOUT = _float(env, "SMS_PROVIDER_TIMEOUT", 10.0)
        # One attempt may call every provider of the chain (failing over).
        self.SMS_SEND_LOCK_TTL = math.ceil(self.SMS_PROVIDER_TIMEOUT * len(self.SMS_PROVIDERS)) + 2
        self.SMS_CODE_TTL = _int(env, "SMS_CODE_TTL", 300, minimum=1)
        self.SMS_SEND_INTERVAL = _int(env, "SMS_SEND_INTERVAL", 60, minimum=1)
        self.SMS_VERIFY_MAX_ATTEMPTS = _int(env, "SMS_VERIFY_MAX_ATTEMPTS", 5, minimum=1)
        self.SMS_DAILY_LIMIT = _int(env, "SMS_DAILY_LIMIT", 5, minimum=1)
        self.RATELIMIT_SMS_PER_IP = env.get("RATELIMIT_SMS_PER_IP") or "5 per minute;30 per hour"
        self.RATELIMIT_VERIFY_PER_IP = env.get("RATELIMIT_VERIFY_PER_IP") or "20 per minute"
        self.TRUSTED_PROXY_COUNT = _int(env, "TRUSTED_PROXY_COUNT", 0)
        # Request bodies are a code or a captcha answer: 16 KiB is plenty,
        # and anything larger is a 413 before it is read.
        self.MAX_CONTENT_LENGTH = _int(env, "MAX_CONTENT_LENGTH", 16 * 1024, minimum=1024)
        self.MAX_FORM_MEMORY_SIZE = self.MAX_CONTENT_LENGTH
        self.MAX_FORM_PARTS = 100
        # The visibility timeout: how long an unacknowledged send waits on a
        # Redis broker before it is handed to another worker, when its worker
        # died. It follows from the code's lifetime, so that the redelivered
        # send still arrives while the code is valid, and it outlives the send
        # lock, so the redelivery finds the dead worker's lock gone.
        self.CELERY_VISIBILITY_TIMEOUT = _int(
            env,
            "CELERY_VISIBILITY_TIMEOUT",
            max(self.SMS_SEND_LOCK_TTL + 1, min(60, self.SMS_CODE_TTL // 2)),
            minimum=2,
        )
        # Retries of transient send failures: exponential back-off with
        # jitter from SMS_RETRY_BACKOFF seconds, each wait capped at
        # SMS_RETRY_BACKOFF_MAX (below the broker's visibility timeout, so a
        # waiting retry is never handed to a second worker).
        self.SMS_RETRY_BACKOFF = _float(env, "SMS_RETRY_BACKOFF", 2.0)
        self.SMS_RETRY_BACKOFF_MAX = _float(
            env, "SMS_RETRY_BACKOFF_MAX", min(30.0, self.CELERY_VISIBILITY_TIMEOUT / 2)
        )
        # Provider attempts that failed transiently; waiting for Redis or for
        # another delivery's lock does not spend them.
        self.SMS_MAX_RETRIES = _int(env, "SMS_MAX_RETRIES", 5)
        self.SMS_QUEUE_CHECK_INTERVAL = _float(env, "SMS_QUEUE_CHECK_INTERVAL", 60.0)
        self.SMS_QUEUE_WARN_DEPTH = _int(env, "SMS_QUEUE_WARN_DEPTH", 1000)
        self.SMS_QUEUE_WARN_AGE = _int(env, "SMS_QUEUE_WARN_AGE", 30)
        # Seconds a beat holds its Redis lock without renewing it: when the
        # active beat dies, a standby beat takes over within about this time.
        self.BEAT_LOCK_TIMEOUT = _int(env, "BEAT_LOCK_TIMEOUT", 60, minimum=5)
        # Seconds a publish to RabbitMQ waits for the broker's confirm.
        self.CELERY_CONFIRM_TIMEOUT = _float(env, "CELERY_CONFIRM_TIMEOUT", 3.0)
        self.LOG_FORMAT = (env.get("LOG_FORMAT") or "text").lower()
        self._abuse(env)

        self.LOG_LEVEL = (env.get("LOG_LEVEL") or "INFO").upper()
        self.CELERY = self._celery(env)

    def _sentinel_url(self) -> str | None:
        """kombu's and Celery's form of the Sentinels: ``sentinel://h:p/db;sentinel://...``."""
        if not self.REDIS_SENTINELS:
            return None
        return ";".join(f"sentinel://{h}:{p}/{self.REDIS_DB}" for h, p in self.REDIS_SENTINELS)

    def _abuse(self, env: Mapping[str, str]) -> None:
        """The abuse defence (``project.abuse``): captcha, risk, conversion, budgets."""
        self.SMS_CAPTCHA = (env.get("SMS_CAPTCHA") or "auto").strip().lower()
        self.SMS_CAPTCHA_TEST_ANSWER = env.get("SMS_CAPTCHA_TEST_ANSWER") or None
        self.SMS_CAPTCHA_TTL = _int(env, "SMS_CAPTCHA_TTL", 300, minimum=10)
        self.RATELIMIT_CAPTCHA_PER_IP = env.get("RATELIMIT_CAPTCHA_PER_IP") or "20 per minute"
        # Codes one address may get within the hour before the next needs a captcha.
        self.SMS_RISK_IP_PER_HOUR = _int(env, "SMS_RISK_IP_PER_HOUR", 3, minimum=1)
        # A 7-digit range holds 10,000 numbers of one carrier and city; a
        # busy service spreads its codes over tens of thousands of ranges, so
        # 30 an hour in one is far above real traffic yet reached in minutes
        # by a pumping run. Passing it only asks for a captcha.
        self.SMS_RISK_RANGE_PER_HOUR = _int(env, "SMS_RISK_RANGE_PER_HOUR", 30, minimum=1)
        # Real users verify most codes (typically 70-90 %); pumped codes
        # never are. Below the ratio, on at least the volume, the alarm rises.
        self.SMS_CONVERSION_ALARM_RATIO = _number(
            env, "SMS_CONVERSION_ALARM_RATIO", 0.3, float, 0.0
        )
        if self.SMS_CONVERSION_ALARM_RATIO > 1:
            raise ConfigError(
                "SMS_CONVERSION_ALARM_RATIO must be between 0 and 1, "
                f"got {self.SMS_CONVERSION_ALARM_RATIO}"
            )
        self.SMS_CONVERSION_MIN_ISSUED = _int(env, "SMS_CONVERSION_MIN_ISSUED", 50, minimum=1)
        self.SMS_CONVERSION_CHECK_INTERVAL = _float(env, "SMS_CONVERSION_CHECK_INTERVAL", 60.0)
        self.SMS_HOURLY_BUDGET = _int(env, "SMS_HOURLY_BUDGET", 0)
        self.SMS_DAILY_BUDGET = _int(env, "SMS_DAILY_BUDGET", 0)
        self.SMS_TEST_NUMBERS = _test_numbers(env)

    def _celery(self, env: Mapping[str, str]) -> dict[str, Any]:
        """Celery's own (lower-case) settings, loaded by ``celery_init_app``."""
        redis_url = self._sentinel_url() or self.REDIS_URL
        broker_url = env.get("CELERY_BROKER_URL") or redis_url
        backend_url = env.get("CELERY_RESULT_BACKEND") or redis_url
        timeout = self.REDIS_SOCKET_TIMEOUT
        transport: dict[str, Any] = {}
        if self._redis_broker(broker_url):
            transport = {
                "visibility_timeout": self.CELERY_VISIBILITY_TIMEOUT,
                # Sweep for a dead worker's sends every 5 s (kombu's default
                # sweep is 10 s x a throttle of 10).
                "unacked_restore_interval": RESTORE_INTERVAL,
                "unacked_restore_throttle": 1,
                # Above kombu's 1 s BRPOP, so an idle consumer is not cut off.
                "socket_timeout": timeout + 2,
                "socket_connect_timeout": timeout,
                "retry_on_timeout": False,
                # kombu's default of 10 is too few for a threads or gevent
                # pool of 50-200: acks then fail with "Too many connections".
                "max_connections": _int(env, "CELERY_BROKER_MAX_CONNECTIONS", 500, minimum=10),
            }
        elif _amqp(broker_url):
            # Publisher confirms: a send the broker did not confirm is an
            # error for the web to answer 503, never a 200 with a lost SMS. A
            # confirmed send is on a majority of a quorum queue's nodes and
            # survives the loss of one.
            transport = {"confirm_publish": True}
        backend_transport: dict[str, Any] = {"retry_policy": {"max_retries": 1}}
        if self.REDIS_SENTINEL_MASTER:
            sentinel = {
                "master_name": self.REDIS_SENTINEL_MASTER,
                "sentinel_kwargs": {"socket_timeout": timeout, "socket_connect_timeout": timeout},
            }
            if urlsplit(broker_url).scheme == "sentinel":
                transport.update(sentinel)
            if urlsplit(backend_url).scheme == "sentinel":
                backend_transport.update(sentinel)
        queue = env.get("CELERY_TASK_DEFAULT_QUEUE") or "celery"
        return {
            "broker_url": broker_url,
            "result_backend": backend_url,
            "task_default_queue": queue,
            **self._rabbitmq(env, broker_url, queue),
            # The modules whose tasks a worker must know (the web imports
            # project.tasks itself).
            "include": ["project.tasks", "project.periodic"],
            # JSON only: a pickle message is remote code execution.
            "accept_content": ["json"],
            "task_serializer": "json",
            "result_serializer": "json",
            "result_accept_content": ["json"],
            # At-least-once: a send is acknowledged after it ran, and put
            # back when the process running it dies.
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            "task_time_limit": 30,
            "task_soft_time_limit": 20,
            "worker_max_tasks_per_child": 1000,
            "timezone": "Asia/Shanghai",
            "enable_utc": True,
            "broker_connection_retry_on_startup": True,
            # A Redis broker demoted by a failover answers READONLY (and
            # unblocks BRPOP with an error) instead of closing the connection:
            # reconnect, as for a lost connection, rather than exit the worker.
            "broker_channel_error_retry": True,
            "broker_connection_timeout": timeout,
            "broker_transport_options": transport,
            "result_backend_transport_options": backend_transport,
            "redis_socket_timeout": timeout,
            "redis_socket_connect_timeout": timeout,
            # Publishing from a web request: give up fast so the view can
            # answer 503 instead of holding the client.
            "task_publish_retry_policy": {
                "max_retries": 1,
                "interval_start": 0,
                "interval_step": 0.2,
                "interval_max": 0.2,
            },
            "result_expires": 3600,
            "worker_send_task_events": False,
            "task_default_delivery_mode": "persistent",
            **self._beat(env),
            "beat_schedule": {
                "check-send-queue": {
                    "task": "check_send_queue",
                    "schedule": self.SMS_QUEUE_CHECK_INTERVAL,
                },
                "check-conversion": {
                    "task": "check_conversion",
                    "schedule": self.SMS_CONVERSION_CHECK_INTERVAL,
                },
                "daily-rollup": {
                    "task": "daily_rollup",
                    "schedule": crontab(hour=0, minute=5),  # Asia/Shanghai, see timezone
                },
            },
        }

    def _rabbitmq(self, env: Mapping[str, str], broker_url: str, queue: str) -> dict[str, Any]:
        """Quorum queue, publisher confirms and a dead-letter queue, with an amqp:// broker."""
        amqp = _amqp(broker_url)
        queue_type = self.CELERY_QUEUE_TYPE = (
            env.get("CELERY_QUEUE_TYPE") or ("quorum" if amqp else "classic")
        ).lower()
        if queue_type not in {"classic", "quorum"}:
            raise ConfigError(
                f"CELERY_QUEUE_TYPE must be 'classic' or 'quorum', got {queue_type!r}"
            )
        if queue_type == "quorum" and not amqp:
            raise ConfigError("CELERY_QUEUE_TYPE=quorum needs an amqp:// CELERY_BROKER_URL")
        if not amqp:
            return {}
        self.CELERY_DELIVERY_LIMIT = _int(env, "CELERY_DELIVERY_LIMIT", 10, minimum=1)
        return {
            "task_default_queue_type": queue_type,
            # Native delayed delivery (countdown retries on quorum queues)
            # routes through topic exchanges; a direct one would hold ETA
            # tasks in the worker's memory instead.
            "task_default_exchange_type": "topic",
            "task_queues": [celery_queue(queue, queue_type, self.CELERY_DELIVERY_LIMIT)],
            # A worker cut from RabbitMQ has its unacknowledged sends
            # requeued for the other workers at once: finishing them too
            # would race those redeliveries and could send an SMS twice.
            # (A Redis broker requeues only after the visibility timeout and
            # takes a late ack on a new connection: no cancelling there.)
            "worker_cancel_long_running_tasks_on_connection_loss": True,
            # A dead node's consumers notice within two heartbeats.
            "broker_heartbeat": 10,
            # Delayed delivery set up on one live node, not on every URL in
            # turn (see project/delayed_delivery.py).
            "worker_consumer": "project.delayed_delivery:Consumer",
        }

    def _beat(self, env: Mapping[str, str]) -> dict[str, Any]:
        """celery-redbeat: a beat may run on every host; a Redis lock lets one act.

        The schedule (each entry's last run) lives in Redis too, so a standby
        that takes over runs nothing twice. Beat renews the lock every tick,
        at most ``BEAT_LOCK_TIMEOUT / 5`` apart, and a standby retries as often.
        """
        timeout = self.REDIS_SOCKET_TIMEOUT
        beat: dict[str, Any] = {
            "beat_scheduler": "redbeat.RedBeatScheduler",
            "beat_max_loop_interval": max(1, self.BEAT_LOCK_TIMEOUT // 5),
            "redbeat_lock_timeout": self.BEAT_LOCK_TIMEOUT,
            "redbeat_redis_url": self.REDIS_URL,
            "redbeat_redis_options": {
                "socket_timeout": timeout + 2,
                "socket_connect_timeout": timeout,
            },
        }
        if self.REDIS_SENTINELS:
            # redbeat's own options, so the lock and the schedule follow the
            # Sentinel-elected master like every other Redis role.
            url = urlsplit(self.REDIS_URL)
            beat["redbeat_redis_url"] = "redis-sentinel://"
            beat["redbeat_redis_options"] = {
                "sentinels": self.REDIS_SENTINELS,
                "service_name": self.REDIS_SENTINEL_MASTER,
                "password": url.password,
                "db": self.REDIS_DB,
                "socket_timeout": timeout,
            }
        return beat

    def _validate_redelivery(self) -> None:
        """A send redelivered after its worker died must arrive while its code is valid."""
        visibility = self.CELERY_VISIBILITY_TIMEOUT
        if visibility <= self.SMS_SEND_LOCK_TTL:
            raise ConfigError(
                f"CELERY_VISIBILITY_TIMEOUT ({visibility} s) must be above SMS_PROVIDER_TIMEOUT "
                f"x providers + 2 s ({self.SMS_SEND_LOCK_TTL} s), or a slow send is handed to "
                "a second worker"
            )
        if visibility <= self.SMS_RETRY_BACKOFF_MAX:
            raise ConfigError(
                "SMS_RETRY_BACKOFF_MAX must be below CELERY_VISIBILITY_TIMEOUT, or a waiting "
                "retry is handed to a second worker"
            )
        latest = visibility + RESTORE_INTERVAL + 2
        if latest > self.SMS_CODE_TTL:
            raise ConfigError(
                f"SMS_CODE_TTL ({self.SMS_CODE_TTL} s) is too short: a send redelivered after "
                f"its worker died arrives up to {latest} s late (CELERY_VISIBILITY_TIMEOUT "
                f"{visibility} s, set by SMS_PROVIDER_TIMEOUT {self.SMS_PROVIDER_TIMEOUT:g} s); "
                f"raise SMS_CODE_TTL to {latest} or more, or lower those"
            )

    @staticmethod
    def _redis_broker(url: str) -> bool:
        return urlsplit(url).scheme in {"redis", "rediss", "sentinel"}

    def validate(self) -> None:
        """Refuse settings that cannot work; raise ConfigError naming them."""
        if self._redis_broker(self.CELERY["broker_url"]):
            self._validate_redelivery()
        for name in ("RATELIMIT_SMS_PER_IP", "RATELIMIT_VERIFY_PER_IP", "RATELIMIT_CAPTCHA_PER_IP"):
            # A limit string the limiter cannot read would limit nothing.
            try:
                parse_many(getattr(self, name))
            except ValueError:
                raise ConfigError(
                    f"{name} is not a rate limit such as '5 per minute;30 per hour', "
                    f"got {getattr(self, name)!r}"
                ) from None
        if self.LOG_FORMAT not in {"text", "json"}:
            raise ConfigError(f"LOG_FORMAT must be 'text' or 'json', got {self.LOG_FORMAT!r}")
        if self.SMS_CAPTCHA not in CAPTCHA_MODES:
            raise ConfigError(
                f"SMS_CAPTCHA must be one of {', '.join(CAPTCHA_MODES)}, got {self.SMS_CAPTCHA!r}"
            )
        if self.SMS_CAPTCHA_TEST_ANSWER and self.NAME != "testing":
            raise ConfigError(
                "SMS_CAPTCHA_TEST_ANSWER makes every captcha answerable and is refused "
                f"unless APP_CONFIG=testing (here {self.NAME})"
            )
        self._validate_purposes()
        self._validate_providers()

    def _validate_purposes(self) -> None:
        bad = [name for name in self.SMS_PURPOSES if not PURPOSE_NAME.fullmatch(name)]
        if bad or len(set(self.SMS_PURPOSES)) != len(self.SMS_PURPOSES):
            raise ConfigError(
                "SMS_PURPOSES must be distinct names of lower-case letters, digits and _ "
                f"(register,login), got {','.join(self.SMS_PURPOSES)!r}"
            )
        unknown = sorted(set(self.RONGLIAN_TEMPLATES) - set(self.SMS_PURPOSES))
        if unknown:
            raise ConfigError(f"RONGLIAN_TEMPLATES names purposes not in SMS_PURPOSES: {unknown}")
        if self.RONGLIAN_VOICE_PLAY_TIMES > 3:
            raise ConfigError(
                f"RONGLIAN_VOICE_PLAY_TIMES must be 1 to 3, got {self.RONGLIAN_VOICE_PLAY_TIMES}"
            )
        if self.RONGLIAN_VOICE_LANG not in {"zh", "en"}:
            raise ConfigError(
                f"RONGLIAN_VOICE_LANG must be 'zh' or 'en', got {self.RONGLIAN_VOICE_LANG!r}"
            )
        if self.SMS_PUBLIC_URL and not self.SMS_PUBLIC_URL.startswith(("http://", "https://")):
            raise ConfigError(
                f"SMS_PUBLIC_URL must be an http(s):// URL, got {self.SMS_PUBLIC_URL!r}"
            )

    def _validate_providers(self) -> None:
        unknown = [name for name in self.SMS_PROVIDERS if name not in PROVIDER_SETTINGS]
        if unknown or len(set(self.SMS_PROVIDERS)) != len(self.SMS_PROVIDERS):
            raise ConfigError(
                "SMS_PROVIDER must be one of ronglian, aliyun, tencent, console or a chain "
                f"of them without repeats (ronglian,aliyun), got {self.SMS_PROVIDER!r}"
            )
        if "console" in self.SMS_PROVIDERS and len(self.SMS_PROVIDERS) > 1:
            raise ConfigError("SMS_PROVIDER=console cannot be part of a chain")
        for name in self.SMS_PROVIDERS:
            required, templates, endpoint = PROVIDER_SETTINGS[name]
            missing = [setting for setting in required if not getattr(self, setting)]
            if missing:
                raise ConfigError(f"SMS_PROVIDER={name} needs {', '.join(missing)} to be set")
            if templates:
                mapping = getattr(self, templates)
                for purpose in self.SMS_PURPOSES:
                    if purpose not in mapping:
                        raise ConfigError(
                            f"{templates} has no template for purpose {purpose!r} "
                            f"(SMS_PROVIDER={name} needs one per purpose of SMS_PURPOSES)"
                        )
            if endpoint:
                endpoint_parts(endpoint, getattr(self, endpoint))


# A purpose is part of Redis keys and of the token: a plain word.
PURPOSE_NAME = re.compile(r"[a-z0-9_]{1,32}")


# Per provider: the settings it needs, its per-purpose template setting, its endpoint setting.
PROVIDER_SETTINGS: dict[str, tuple[tuple[str, ...], str | None, str | None]] = {
    "console": ((), None, None),
    "ronglian": (("RONGLIAN_ACC_ID", "RONGLIAN_ACC_TOKEN", "RONGLIAN_APP_ID"), None, None),
    "aliyun": (
        ("ALIYUN_ACCESS_KEY_ID", "ALIYUN_ACCESS_KEY_SECRET", "ALIYUN_SIGN_NAME"),
        "ALIYUN_TEMPLATES",
        "ALIYUN_ENDPOINT",
    ),
    "tencent": (
        ("TENCENT_SECRET_ID", "TENCENT_SECRET_KEY", "TENCENT_SMS_SDK_APP_ID", "TENCENT_SIGN_NAME"),
        "TENCENT_TEMPLATES",
        "TENCENT_ENDPOINT",
    ),
}


def dead_letter_queue(queue: str) -> Queue:
    """Where a send goes after ``CELERY_DELIVERY_LIMIT`` deliveries (a poison message)."""
    return Queue(
        f"{queue}.dead",
        Exchange(f"{queue}.dead", type="topic"),
        routing_key="#",
        queue_arguments={"x-queue-type": "quorum"},
    )


def celery_queue(queue: str, queue_type: str, delivery_limit: int) -> Queue:
    """The send queue on RabbitMQ, declared with its queue arguments (not a policy).

    A quorum queue counts redeliveries (a worker that died mid-send, a
    requeue) and dead-letters a message past ``x-delivery-limit``, so a
    send that crashes every worker stops circling. Classic queues have no
    delivery count; there the limit and the dead-letter queue do not apply.
    """
    arguments: dict[str, Any] = {"x-queue-type": queue_type}
    if queue_type == "quorum":
        arguments |= {
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": f"{queue}.dead",
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",  # at-least-once dead-lettering requires it
        }
    return Queue(queue, Exchange(queue, type="topic"), routing_key=queue, queue_arguments=arguments)


class DevelopmentConfig(Config):
    NAME = "development"
    DEBUG = False  # the reloader and debugger are not wanted under gunicorn


class TestingConfig(Config):
    NAME = "testing"
    TESTING = True
    DEFAULT_SECRET_KEY = "testing-not-secret"


class ProductionConfig(Config):
    NAME = "production"
    DEFAULT_SECRET_KEY = None
    DEFAULT_SMS_PROVIDER = "ronglian"

    def validate(self) -> None:
        if not self.SECRET_KEY:
            raise ConfigError("SECRET_KEY must be set when APP_CONFIG=production")
        for name, key in [("SECRET_KEY", self.SECRET_KEY)] + [
            ("SECRET_KEY_FALLBACKS", key) for key in self.SECRET_KEY_FALLBACKS
        ]:
            if key in PLACEHOLDER_KEYS:
                raise ConfigError(f"{name} is a published placeholder; generate a real key")
            if len(key) < MIN_SECRET_KEY_LENGTH:
                raise ConfigError(
                    f"{name} must be at least {MIN_SECRET_KEY_LENGTH} characters "
                    f'(python -c "import secrets; print(secrets.token_urlsafe(48))")'
                )
        super().validate()
        if "console" in self.SMS_PROVIDERS and not self.SMS_ALLOW_CONSOLE:
            raise ConfigError(
                "SMS_PROVIDER=console prints codes and is refused when "
                "APP_CONFIG=production; set SMS_ALLOW_CONSOLE=1 to allow it"
            )


CONFIGS: dict[str, type[Config]] = {
    cls.NAME: cls for cls in (DevelopmentConfig, TestingConfig, ProductionConfig)
}


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Build and validate the configuration named by ``APP_CONFIG``."""
    env = os.environ if env is None else env
    name = (env.get("APP_CONFIG") or "development").lower()
    try:
        cls = CONFIGS[name]
    except KeyError:
        raise ConfigError(f"APP_CONFIG must be one of {', '.join(CONFIGS)}, got {name!r}") from None
    config = cls(env)
    config.validate()
    return config
