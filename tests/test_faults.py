"""Faults caused on purpose: Redis refusing writes, a key rotated mid-flight, a trickling provider.

Each test breaks a real server the suite started and counts what arrived:
no SMS lost, none sent twice, and never a 500.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
import requests

from tools.redis_server import free_port

MOBILE = "13812345678"
# A short visibility timeout so a message left unacknowledged comes back soon.
FAST = {
    "SMS_RETRY_BACKOFF": "3",
    "SMS_RETRY_BACKOFF_MAX": "4",
    "CELERY_VISIBILITY_TIMEOUT": "16",
}


def post(web: str, mobile: str = MOBILE) -> requests.Response:
    return requests.post(f"{web}/users/sms/{mobile}", timeout=10)


@contextmanager
def out_of_memory(url: str) -> Iterator[None]:
    """Redis at ``maxmemory`` with noeviction: every write that needs memory is refused."""
    client = redis.Redis.from_url(url)
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", "1")
    try:
        yield
    finally:
        client.config_set("maxmemory", "0")


@contextmanager
def read_only_replica(url: str) -> Iterator[None]:
    """Redis demoted to a replica (of a master that does not answer): READONLY to writes.

    The master's address is a closed port, so the replica never syncs and
    keeps its data, as a demoted master does until it reaches the new one.
    """
    client = redis.Redis.from_url(url)
    client.replicaof("127.0.0.1", free_port())
    try:
        yield
    finally:
        client.replicaof("NO", "ONE")


@pytest.mark.parametrize("fault", [out_of_memory, read_only_replica])
def test_redis_refusing_writes_is_a_503_that_leaves_nothing_behind(start_web, redis_url, fault):
    web = start_web()

    with fault(redis_url):
        answer = post(web)
        assert answer.status_code == 503
        assert answer.json()["error"] == "unavailable"
        assert "Traceback" not in answer.text

    assert post(web).status_code == 200  # no cooldown was left behind


@pytest.mark.parametrize("fault", [out_of_memory, read_only_replica])
def test_a_queued_send_waits_out_redis_refusing_writes_and_is_delivered_once(
    start_web, start_worker, sim, redis_url, fault
):
    worker = start_worker(env=FAST, pool="threads")
    web = start_web(env=FAST)
    sim.script({"http": 500})  # the first attempt fails: a retry is queued

    assert post(web).status_code == 200
    worker.wait_for_output("retrying in")
    with fault(redis_url):
        # The retry comes due while Redis refuses writes: the ledger cannot be
        # consulted, so the send must wait (in the worker, or unacknowledged in
        # the broker when the consumer reconnects), not be acknowledged and lost.
        time.sleep(8)
        assert sim.delivered() == []

    delivered = sim.wait_for(1, timeout=60)
    time.sleep(2)  # room for a wrong second delivery to show up
    assert len(delivered) == 1 and len(sim.delivered()) == 1
    assert [r["status"] for r in sim.requests()] == ["500", "000000"]
    assert worker.process.poll() is None


def test_a_secret_key_rotation_keeps_live_codes_and_queued_sends(
    start_web, start_worker, services, sim
):
    old_key, new_key = "old-" + "o" * 40, "new-" + "n" * 40
    before = start_web(env={"SECRET_KEY": old_key})
    assert post(before).status_code == 200  # queued: no worker runs yet
    assert post(before, "13900001111").status_code == 200
    for service in list(services):
        service.stop()
        services.remove(service)

    rotated = {"SECRET_KEY": new_key, "SECRET_KEY_FALLBACKS": old_key}
    start_worker(env=rotated, pool="threads")
    after = start_web(env=rotated)

    delivered = sim.wait_for(2, timeout=30)
    assert sorted(r["to"] for r in delivered) == [MOBILE, "13900001111"]
    for sms in delivered:
        code = sms["datas"][0]
        verified = requests.post(
            f"{after}/users/sms/{sms['to']}/verify", json={"code": code}, timeout=10
        )
        assert verified.status_code == 200, verified.text


def test_a_trickling_provider_gets_one_sms_and_frees_the_worker_within_the_deadline(
    start_web, start_worker, sim
):
    env = {"SMS_PROVIDER_TIMEOUT": "3", "SMS_RETRY_BACKOFF": "1", "SMS_RETRY_BACKOFF_MAX": "2"}
    worker = start_worker(env=env, pool="threads", concurrency=1)
    web = start_web(env=env)
    sim.script({"trickle": 30})

    assert post(web).status_code == 200
    sim.wait_for_hold()
    trickle_started = time.time()
    # One thread only: the second SMS goes out only once the first call let go.
    assert post(web, "13900001111").status_code == 200

    sim.wait_for(2, timeout=30)
    time.sleep(2)  # room for a wrong extra SMS to show up
    sent = sorted((r["to"], r["status"]) for r in sim.requests())
    assert sent == [(MOBILE, "000000"), (MOBILE, "abandoned"), ("13900001111", "000000")]
    # The worker let go long before the provider would have finished its answer.
    assert all(r["at"] < trickle_started + 30 for r in sim.delivered())
    assert "attempt 1 failed: statusCode 172001" in worker.output()


def test_rabbitmq_a_publish_after_the_broker_restarted_is_confirmed_or_refused(
    start_web, start_worker, sim, rabbitmq_server
):
    broker = {"CELERY_BROKER_URL": rabbitmq_server.url, "CELERY_TASK_DEFAULT_QUEUE": "sms-restart"}
    web = start_web(env=broker, workers=1, threads=1)
    assert post(web).status_code == 200  # the web holds a broker connection now

    rabbitmq_server.restart()  # the connection the web holds is dead
    answers = [post(web, f"1390000{n:04d}") for n in range(3)]
    assert {a.status_code for a in answers} <= {200, 503}, [a.text for a in answers]

    start_worker(env=broker, pool="threads")
    accepted = sorted(f"1390000{n:04d}" for n, a in enumerate(answers) if a.status_code == 200)
    delivered = sim.wait_for(1 + len(accepted), timeout=60)
    assert sorted(r["to"] for r in delivered) == sorted([MOBILE, *accepted])
