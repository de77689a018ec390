"""A 3-node RabbitMQ cluster, a quorum queue, and its leader SIGKILLed mid-stream.

2,000 sends at a steady rate; half-way the node leading the send queue is
killed, then started again. Every 200 must become exactly one SMS; the pause
in deliveries is reported (docs/scaling.md quotes it). Heavy: ``make test-ha``
(``python -m pytest -m ha tests/test_failover_rabbitmq.py -s``).
"""

from __future__ import annotations

import itertools
import time
import uuid

import pytest

from tests.steady import SteadySender, outcome
from tools.rabbitmq_cluster import RabbitMQCluster
from tools.rabbitmq_server import rabbitmq_binary

pytestmark = [
    pytest.mark.ha,
    pytest.mark.timeout(900),  # ≈130 s alone; room for a loaded CI machine
    pytest.mark.skipif(rabbitmq_binary() is None, reason="rabbitmq-server is not installed"),
]

SENDS, RATE = 2000, 20  # a steady 20 sends a second for 100 s
DOWN_FOR = 10  # seconds the leader stays dead before it is started again


@pytest.fixture
def cluster():
    with RabbitMQCluster() as nodes:
        yield nodes


def largest_gap(times: list[float], start: float, end: float) -> float:
    """The longest wait between two deliveries within [start, end]."""
    inside = sorted(t for t in times if start <= t <= end)
    return max((b - a for a, b in itertools.pairwise(inside)), default=0.0)


def test_the_queue_leader_killed_mid_stream_loses_no_sms_and_doubles_none(
    cluster, start_web, start_worker, sim
):
    queue = f"sms-{uuid.uuid4().hex[:8]}"
    env = {
        "CELERY_BROKER_URL": cluster.url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "RATELIMIT_SMS_PER_IP": f"{SENDS * 2} per minute",  # one client sends them all
    }
    start_worker(env=env, pool="threads", concurrency=8)
    web = start_web(env=env)
    sender = SteadySender(web, rate=RATE, count=SENDS).start()

    while sender.sent() < SENDS // 2:
        time.sleep(0.2)
    leader = cluster.wait_for_leader(queue)
    leader.kill()
    fault_at = time.time()
    time.sleep(DOWN_FOR)
    leader.start()
    answers = sender.wait(timeout=SENDS / RATE * 3)

    ok = {a.mobile for a in answers if a.status == 200}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not ok <= {r["to"] for r in sim.delivered()}:
        time.sleep(1)
    time.sleep(3)  # room for a duplicate to show up
    delivered = sim.delivered()
    result = outcome(answers, delivered, fault_at)
    pause = largest_gap([r["at"] for r in delivered], fault_at - 5, fault_at + 60)
    steady = largest_gap([r["at"] for r in delivered], fault_at - 60, fault_at - 5)
    print(
        f"\nRABBITMQ leader {leader.node} killed after {SENDS // 2} sends, back after "
        f"{DOWN_FOR} s; {result.summary()}; longest pause in deliveries around the kill: "
        f"{pause:.1f} s (before it: {steady:.1f} s)"
    )

    assert len(answers) == SENDS
    assert set(result.statuses) <= {200, 503}, result.statuses  # never a 500
    assert result.duplicates == []
    # Confirmed sends are on a majority of the nodes: none is lost.
    assert result.missing_before == [] and result.missing_after == []
    assert result.first_200_after is not None
