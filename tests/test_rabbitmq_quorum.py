"""RabbitMQ as the broker: quorum queue, countdown retries, confirms, poison messages."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from kombu import Connection

from project import create_app
from project.celery_app import declare_dead_letter_queues
from project.codes import issue_code

MOBILE = "13812345678"
FAST_RETRIES = {"SMS_RETRY_BACKOFF": "0.5", "SMS_RETRY_BACKOFF_MAX": "1"}


@pytest.fixture
def broker(rabbitmq_server) -> dict[str, str]:
    """A fresh queue on the private RabbitMQ: quorum by default with amqp://."""
    return {
        "CELERY_BROKER_URL": rabbitmq_server.url,
        "CELERY_TASK_DEFAULT_QUEUE": f"sms-{uuid.uuid4().hex[:8]}",
    }


def queue_types(server) -> dict[str, str]:
    lines = server.ctl("list_queues", "name", "type", "--quiet").splitlines()
    return dict(line.split("\t") for line in lines if "\t" in line)


def test_a_countdown_retry_on_a_quorum_queue_arrives_once(
    start_web, start_worker, sim, broker, rabbitmq_server
):
    env = {**broker, **FAST_RETRIES}
    worker = start_worker(env=env, pool="threads")
    web = start_web(env=env)
    sim.script({"http": 500})

    assert requests.post(f"{web}/users/sms/{MOBILE}", timeout=10).status_code == 200

    [sms] = sim.wait_for(1, timeout=30)
    assert sms["to"] == MOBILE
    time.sleep(2)  # room for a wrong extra send
    assert [r["status"] for r in sim.requests()] == ["500", "000000"]
    assert "retrying in" in worker.output()
    assert queue_types(rabbitmq_server)[broker["CELERY_TASK_DEFAULT_QUEUE"]] == "quorum"
    # The retry waited in RabbitMQ's native delayed-delivery exchanges, not in
    # the worker's memory.
    assert "celery_delayed_27" in rabbitmq_server.ctl("list_exchanges", "name", "--quiet")


def test_a_send_the_broker_refuses_is_a_503_and_leaves_no_cooldown(
    settings, broker, rabbitmq_server
):
    queue = broker["CELERY_TASK_DEFAULT_QUEUE"]
    # A full queue rejects publishes (x-overflow reject-publish): RabbitMQ
    # nacks the send instead of confirming it.
    policy = f"full-{queue}"
    rabbitmq_server.ctl(
        "set_policy", "--apply-to", "queues", policy, f"^{queue}$", '{"max-length": 1}'
    )
    client = create_app({**settings, **broker}).test_client()
    try:
        mobiles = [f"139000000{n:02d}" for n in range(10)]
        answers = {m: client.post(f"/users/sms/{m}") for m in mobiles}
    finally:
        rabbitmq_server.ctl("clear_policy", policy)

    refused = [m for m, a in answers.items() if a.status_code != 200]
    assert refused, "the full queue took every send"
    for mobile in refused:
        assert (answers[mobile].status_code, answers[mobile].json["error"]) == (503, "unavailable")
    # A refused mobile may retry at once: no cooldown was left behind.
    assert client.post(f"/users/sms/{refused[0]}").status_code == 200


def test_a_message_redelivered_past_the_limit_goes_to_the_dead_letter_queue(
    settings, broker, rabbitmq_server
):
    app = create_app({**settings, **broker, "CELERY_DELIVERY_LIMIT": "2"})
    celery = app.extensions["celery"]
    declare_dead_letter_queues(celery)
    queue = broker["CELERY_TASK_DEFAULT_QUEUE"]
    with app.app_context():
        issue_code(MOBILE)

    [declaration] = celery.conf.task_queues
    with Connection(rabbitmq_server.url) as conn:
        simple = conn.SimpleQueue(declaration)
        for _ in range(3):  # a worker dying on it each time: requeued, counted
            simple.get(timeout=5).requeue()
        with pytest.raises(simple.Empty):
            simple.get(timeout=1)
        dead = conn.default_channel.queue_declare(queue=f"{queue}.dead", passive=True)
        assert dead.message_count == 1
