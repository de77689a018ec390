"""Exactly one beat: a beat on every host, a Redis lock (celery-redbeat) lets one act."""

from __future__ import annotations

import itertools
import re
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import redis

from config import ConfigError, load_config
from project.redis_store import BEAT_LOCK_KEY
from tools.redis_server import RedisServer, answers, free_port, redis_binary
from tools.services import Service, wait_until

BIN = Path(sys.executable).parent
INTERVAL = 2  # seconds between queue checks in this test
LOCK_TIMEOUT = 5
FAST = {"SMS_QUEUE_CHECK_INTERVAL": str(INTERVAL), "BEAT_LOCK_TIMEOUT": str(LOCK_TIMEOUT)}
SENT = re.compile(
    r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/MainProcess\] "
    r"Scheduler: Sending due task check-send-queue"
)


def beat(name: str, settings: dict[str, str], log_dir: Path) -> Service:
    """The README's command as is: the scheduler comes from the settings."""
    argv = [str(BIN / "celery"), "-A", "celery_worker.celery", "beat", "-l", "info"]
    return Service(name, argv, {**settings, **FAST}, log_dir)


def sent_at(service: Service) -> list[datetime]:
    return [
        datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f") for stamp in SENT.findall(service.output())
    ]


@pytest.mark.slow
def test_two_beats_run_each_job_once_and_the_standby_takes_over(
    services, settings, start_worker, redis_url, tmp_path
):
    worker = start_worker(env=FAST, pool="threads", concurrency=2)
    first = beat("beat-a", settings, tmp_path).start()
    services.append(first)
    first.wait_for_output("beat: Acquired lock")
    second = beat("beat-b", settings, tmp_path).start()
    services.append(second)
    second.wait_for_output("beat: Starting...")

    wait_until(lambda: len(sent_at(first)) >= 4, "four sends from the first beat")
    # Only the lock holder acts; the other waits for the lock.
    assert "Acquired lock" not in second.output()
    assert sent_at(second) == []

    lock_ttl = redis.Redis.from_url(redis_url).pttl(BEAT_LOCK_KEY)
    first.signal(signal.SIGKILL)  # no chance to release the lock
    first.process.wait()
    before_kill = sent_at(first)
    assert 0 < lock_ttl <= LOCK_TIMEOUT * 1000  # so the lock lapses within its timeout

    second.wait_for_output("beat: Acquired lock", timeout=LOCK_TIMEOUT * 6)
    wait_until(lambda: len(sent_at(second)) >= 3, "three sends from the second beat")
    second.stop()

    # Once per period across both beats: every send of the job is a period
    # after the one before, including across the takeover (the schedule's
    # last run is in Redis, not in the dead beat's memory).
    sends = sorted(before_kill + sent_at(second))
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(sends)]
    assert min(gaps) >= INTERVAL * 0.9, gaps
    # Each send ran once on the worker.
    wait_until(lambda: worker.output().count("send queue ok") >= len(sends), "the checks to run")
    time.sleep(1)
    assert worker.output().count("send queue ok") == len(sends)


def test_beat_locks_and_schedules_in_the_code_store_redis():
    celery = load_config(
        {"REDIS_URL": "redis://:pw@cache:6380/2", "BEAT_LOCK_TIMEOUT": "30"}
    ).CELERY

    assert celery["beat_scheduler"] == "redbeat.RedBeatScheduler"
    assert celery["redbeat_redis_url"] == "redis://:pw@cache:6380/2"
    assert celery["redbeat_lock_timeout"] == 30
    # The lock is renewed, and a standby retries, several times per timeout.
    assert celery["beat_max_loop_interval"] == 6


def test_beat_follows_the_sentinels_where_they_are_set():
    celery = load_config(
        {
            "REDIS_URL": "redis://:pw@ignored:6379/3",
            "REDIS_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26379",
            "REDIS_SENTINEL_MASTER": "sms",
        }
    ).CELERY

    assert celery["redbeat_redis_url"] == "redis-sentinel://"
    options = celery["redbeat_redis_options"]
    assert options["sentinels"] == [("10.0.0.1", 26379), ("10.0.0.2", 26379)]
    assert (options["service_name"], options["password"], options["db"]) == ("sms", "pw", 3)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BEAT_LOCK_TIMEOUT": "2"}, "BEAT_LOCK_TIMEOUT must be at least 5"),
        ({"BEAT_LOCK_TIMEOUT": "soon"}, "BEAT_LOCK_TIMEOUT must be a whole number"),
        (
            {"REDIS_SENTINELS": "10.0.0.1", "REDIS_SENTINEL_MASTER": "sms"},
            "REDIS_SENTINELS must be host:port pairs",
        ),
        ({"REDIS_SENTINELS": "10.0.0.1:26379"}, "REDIS_SENTINELS needs REDIS_SENTINEL_MASTER"),
    ],
)
def test_bad_beat_settings_are_refused_naming_them(env, message):
    with pytest.raises(ConfigError, match=message):
        load_config(env)


@pytest.mark.slow
def test_with_sentinels_beat_locks_on_the_master_they_name(services, settings, tmp_path):
    """REDIS_URL points nowhere here: the lock can only reach the master through Sentinel."""
    with RedisServer() as master:
        port = free_port()
        conf = tmp_path / "sentinel.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\nsentinel monitor sms 127.0.0.1 {master.port} 1\n"
        )
        sentinel = Service("sentinel", [redis_binary(), str(conf), "--sentinel"], {}, tmp_path)
        services.append(sentinel.start())
        wait_until(lambda: answers(f"redis://127.0.0.1:{port}/0"), "the sentinel")
        env = {
            **settings,
            **FAST,
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "CELERY_BROKER_URL": master.url,
            "CELERY_RESULT_BACKEND": master.url,
            "REDIS_SENTINELS": f"127.0.0.1:{port}",
            "REDIS_SENTINEL_MASTER": "sms",
        }
        argv = [str(BIN / "celery"), "-A", "celery_worker.celery", "beat", "-l", "info"]
        acting = Service("beat", argv, env, tmp_path).start()
        services.append(acting)

        acting.wait_for_output("Sending due task check-send-queue")
        assert redis.Redis.from_url(master.url).exists(BEAT_LOCK_KEY)
        acting.stop()
