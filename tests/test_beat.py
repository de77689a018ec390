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

from project.redis_store import BEAT_LOCK_KEY
from tools.services import Service

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


def wait_until(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


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
