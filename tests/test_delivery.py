"""Delivery you can trust: retries, permanent errors, dead workers, restarts, pools, RabbitMQ."""

from __future__ import annotations

import signal
import time
import uuid

import psutil
import pytest
import requests

MOBILE = "13812345678"
FAST_RETRIES = {"SMS_RETRY_BACKOFF": "0.2", "SMS_RETRY_BACKOFF_MAX": "1"}


def post(web: str, mobile: str = MOBILE, **fields: str) -> requests.Response:
    return requests.post(f"{web}/users/sms/{mobile}", json=fields or None, timeout=10)


@pytest.mark.parametrize("pool", ["prefork", "threads", "gevent"])
def test_each_pool_delivers(start_web, start_worker, sim, pool):
    start_worker(pool=pool)
    web = start_web()

    assert post(web).status_code == 200

    [sms] = sim.wait_for(1)
    assert sms["to"] == MOBILE


def test_two_transient_failures_then_success_deliver_exactly_one_sms(start_web, start_worker, sim):
    worker = start_worker(env=FAST_RETRIES, pool="threads")
    web = start_web()
    sim.script({"drop": True}, {"http": 500})

    assert post(web).status_code == 200

    sim.wait_for(1)
    time.sleep(1.5)  # room for a wrong extra attempt to show up
    assert [r["status"] for r in sim.requests()] == ["dropped", "500", "000000"]
    log = worker.output()
    assert "attempt 1 failed: statusCode 172001" in log
    assert "attempt 2 failed: statusCode 500" in log
    assert MOBILE not in log


def test_a_permanent_error_is_tried_once_and_logged_with_the_masked_mobile(
    start_web, start_worker, sim
):
    worker = start_worker(env=FAST_RETRIES, pool="threads")
    web = start_web()
    sim.script({"status": "160042"})

    assert post(web).status_code == 200

    sim.wait_for(1, delivered=False)
    worker.wait_for_output("failed for good")
    time.sleep(1.5)
    assert [r["status"] for r in sim.requests()] == ["160042"]
    line = next(ln for ln in worker.output().splitlines() if "failed for good" in ln)
    assert "138****5678" in line and "160042" in line and "bad mobile number" in line


@pytest.mark.parametrize(("kind", "fields"), [("sms", {}), ("voice", {"channel": "voice"})])
def test_retries_stop_when_the_code_would_expire(start_web, start_worker, sim, kind, fields):
    short = {
        "SMS_CODE_TTL": "12",
        "SMS_PROVIDER_TIMEOUT": "1",
        "CELERY_VISIBILITY_TIMEOUT": "4",
        "SMS_RETRY_BACKOFF": "2",
        "SMS_RETRY_BACKOFF_MAX": "3",
        "SMS_MAX_RETRIES": "100",
    }
    worker = start_worker(env=short, pool="threads")
    web = start_web(env=short)
    sim.script(*[{"http": 503}] * 100)

    issued_at = time.time()
    assert post(web, **fields).status_code == 200

    worker.wait_for_output("the code expires before a retry", timeout=30)
    time.sleep(1)
    attempts = sim.requests()
    assert attempts and all(r["kind"] == kind for r in attempts)
    assert all(r["at"] < issued_at + 12 for r in attempts)
    assert sim.delivered() == []


def test_a_send_queued_past_its_code_expiry_is_dropped_counted_and_logged_once(
    app, start_worker, sim
):
    from project import metrics
    from project.redis_store import get_redis

    task = app.extensions["celery"].tasks["send_sms"]
    task.apply_async(("1", MOBILE, ["123456", "5"]), expires=1)
    time.sleep(2)  # the code expires while no worker runs

    worker = start_worker(pool="threads")

    worker.wait_for_output("its code expired before it was sent", timeout=20)
    time.sleep(0.5)
    assert sim.requests() == []
    assert metrics.totals(get_redis(app))[metrics.SENDS_DROPPED_EXPIRED] == 1
    assert "Traceback" not in worker.output()


def test_a_redelivered_message_after_a_successful_send_sends_nothing(app, start_worker, sim):
    worker = start_worker(pool="threads")
    task = app.extensions["celery"].tasks["send_sms"]
    send_id = str(uuid.uuid4())

    task.apply_async(("1", MOBILE, ["123456", "5"]), task_id=send_id)
    sim.wait_for(1)
    task.apply_async(("1", MOBILE, ["123456", "5"]), task_id=send_id)  # the same message again

    worker.wait_for_output("already sent; redelivered message ignored")
    assert len(sim.requests()) == 1


def test_a_pool_process_killed_mid_send_loses_no_sms(start_web, start_worker, sim):
    worker = start_worker(pool="prefork", concurrency=2)
    web = start_web()
    sim.script({"hold": 3})

    assert post(web).status_code == 200
    sim.wait_for_hold()
    busy = [p for p in psutil.Process(worker.process.pid).children(recursive=True)]
    for child in busy:  # one of them holds the send; kill both pool processes
        child.send_signal(signal.SIGKILL)

    delivered = sim.wait_for(1, timeout=30)
    assert len(delivered) == 1
    assert [r["status"] for r in sim.requests()].count("000000") == 1


@pytest.mark.parametrize("ttl", [30, 60])
def test_a_whole_worker_killed_mid_send_still_delivers_before_the_code_expires(
    start_web, start_worker, sim, ttl
):
    """The visibility timeout follows SMS_CODE_TTL: the redelivery beats the expiry."""
    env = {"SMS_CODE_TTL": str(ttl)}
    first = start_worker(env=env, pool="threads", name="first")
    web = start_web(env=env)
    sim.script({"hold": 4})

    issued_at = time.time()
    assert post(web).status_code == 200
    sim.wait_for_hold()
    first.signal(signal.SIGKILL)
    first.process.wait()

    second = start_worker(env=env, pool="threads", name="second")

    [sms] = sim.wait_for(1, timeout=ttl + 10)
    print(f"REDELIVERY SMS_CODE_TTL={ttl}: arrived {sms['at'] - issued_at:.1f} s after the ask")
    assert sms["at"] < issued_at + ttl  # the code was still valid when it arrived
    statuses = [r["status"] for r in sim.requests()]
    assert statuses == ["abandoned", "000000"], statuses
    assert "Traceback" not in first.output() + second.output()


def test_sends_after_a_redis_restart_are_delivered(start_web, start_worker, sim, redis_server):
    worker = start_worker(pool="threads")
    web = start_web()
    assert post(web).status_code == 200
    sim.wait_for(1)

    redis_server.stop()
    time.sleep(1)
    redis_server.start()

    deadline = time.monotonic() + 30
    answer = post(web, "13987654321")
    while answer.status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.5)
        answer = post(web, "13987654321")
    assert answer.status_code == 200, answer.text
    delivered = sim.wait_for(2, timeout=60)
    assert [r["to"] for r in delivered] == [MOBILE, "13987654321"]
    assert worker.process.poll() is None


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_rabbitmq_as_broker_end_to_end(start_web, start_worker, sim, rabbitmq_url, pool):
    broker = {
        "CELERY_BROKER_URL": rabbitmq_url,
        "CELERY_TASK_DEFAULT_QUEUE": f"sms-{uuid.uuid4().hex[:8]}",
    }
    start_worker(env=broker, pool=pool)
    web = start_web(env=broker)

    assert post(web).status_code == 200
    assert requests.get(f"{web}/readyz", timeout=10).status_code == 200

    [sms] = sim.wait_for(1, timeout=30)
    assert sms["to"] == MOBILE


def test_rabbitmq_queues_are_durable_and_messages_persistent(settings, rabbitmq_url):
    from kombu import Connection

    from project import create_app

    queue = f"sms-{uuid.uuid4().hex[:8]}"
    app = create_app(
        {**settings, "CELERY_BROKER_URL": rabbitmq_url, "CELERY_TASK_DEFAULT_QUEUE": queue}
    )
    with app.app_context():
        from project.codes import issue_code

        issue_code(MOBILE)

    with Connection(rabbitmq_url) as conn:
        declared = conn.default_channel.queue_declare(queue=queue, passive=True)
        assert declared.message_count == 1
        # The app's own declaration: a quorum queue on a topic exchange.
        [declaration] = app.extensions["celery"].conf.task_queues
        message = conn.SimpleQueue(declaration).get(timeout=5)
        assert message.properties["delivery_mode"] == 2  # persistent
        message.requeue()
        # passive declare of a durable queue succeeds with durable=True
        conn.default_channel.queue_declare(queue=queue, durable=True, passive=True)


def test_waiting_for_another_deliverys_lock_does_not_spend_the_retry_budget(app, start_worker, sim):
    from project.delivery.chain import get_chain

    budget = {"SMS_MAX_RETRIES": "1", "SMS_RETRY_BACKOFF": "0.2", "SMS_RETRY_BACKOFF_MAX": "1"}
    send_id = str(uuid.uuid4())
    with app.app_context():
        begun = get_chain().begin(send_id, "another-delivery", MOBILE, "138****5678", "sms")
        assert begun.state == "go"  # held for its lock TTL
    worker = start_worker(env=budget, pool="threads")
    sim.script({"http": 500})  # one transient failure once the lock lapses

    app.extensions["celery"].tasks["send_sms"].apply_async(
        ("1", MOBILE, ["123456", "5"]), task_id=send_id
    )

    worker.wait_for_output("another delivery is sending it")
    assert len(sim.wait_for(1, timeout=60)) == 1
    assert [r["status"] for r in sim.requests()] == ["500", "000000"]
    assert "gave up" not in worker.output()
