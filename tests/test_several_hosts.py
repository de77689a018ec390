"""Several hosts: web, two workers and the data services on a private subnet.

Each host is a network namespace (``tools.netns``); Redis (store and broker)
and the RongLian simulator live on ``data``. A worker host is cut off (its
link taken down) while the provider is still working on its send. The
provider does not take that attempt, the cut worker can neither finish nor
acknowledge it, and the send comes back to the queue after the visibility
timeout: the other worker delivers it, once, well within the code's TTL.

(Had the provider taken the cut worker's attempt, nobody could know it: the
send would go out a second time once the send lock lapsed. That is the
at-least-once delivery the contract states; docs/scaling.md says so.)
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.conftest import ACC_ID, ACC_TOKEN, APP_ID
from tools import netns
from tools.redis_server import RedisServer, free_port
from tools.ronglian_sim import RongLianSimulator
from tools.services import celery_worker, gunicorn

pytestmark = [
    pytest.mark.ha,
    pytest.mark.skipif(bool(netns.unavailable()), reason=f"{netns.unavailable()}"),
]

MOBILE = "13812345678"
CODE_TTL = 300
VISIBILITY = 20  # production: 60 s; short here so the test is short


@pytest.fixture
def network():
    with netns.Network(["data", "web", "w1", "w2"]) as net:
        yield net


@pytest.fixture
def data_host(network):
    """Redis and the simulator, listening on the data host's address only."""
    address = network.addresses["data"]
    # No password on a subnet that exists only inside the namespaces.
    redis_server = RedisServer(
        host=address, prefix=network.prefix("data"), extra=["--protected-mode", "no"]
    ).start()
    with network.inside("data"):
        sim = RongLianSimulator(ACC_ID, ACC_TOKEN, APP_ID, host=address).start()
    yield redis_server, sim
    sim.stop()
    redis_server.cleanup()


def test_a_worker_host_cut_off_mid_send_loses_nothing_and_sends_once(
    network, data_host, services, settings, tmp_path
):
    redis_server, sim = data_host
    env = {
        **settings,
        "REDIS_URL": redis_server.url,
        "RONGLIAN_BASE_URL": sim.url,
        "SMS_CODE_TTL": str(CODE_TTL),
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY),
    }
    workers = {}
    for host in ("w1", "w2"):
        worker = celery_worker(env, tmp_path, pool="threads", concurrency=2, name=host)
        worker.argv = [*network.prefix(host), *worker.argv]
        services.append(worker.start())
        workers[host] = worker
    port = free_port()
    web_address = network.addresses["web"]
    web = gunicorn(env, port, tmp_path, extra=["--bind", f"{web_address}:{port}"])
    web.argv = [*network.prefix("web"), *web.argv]
    services.append(web.start())
    for worker in workers.values():
        worker.wait_for_output(" ready.", timeout=60)
    url = f"http://{web_address}:{port}"

    # The provider works on the first attempt for a while, then fails it.
    sim.script({"hold": 3, "http": 503})
    with network.inside("web"):
        web.wait_for_http(f"{url}/healthz")
        asked_at = time.time()
        answer = requests.post(f"{url}/users/sms/{MOBILE}", timeout=10)
    assert answer.status_code == 200
    sim.wait_for_hold()
    [cut] = [h for h, w in workers.items() if "send_sms" in w.output() and "received" in w.output()]
    other = "w2" if cut == "w1" else "w1"
    network.cut(cut)

    [sms] = sim.wait_for(1, timeout=VISIBILITY + 60)
    time.sleep(5)  # room for a second SMS to show up

    assert sms["to"] == MOBILE
    assert len(sim.delivered()) == 1
    assert sms["at"] - asked_at < CODE_TTL
    assert "SMS sent to 138****5678" in workers[other].output()
    took = sms["at"] - asked_at
    print(f"\nNETNS {cut} cut mid-send; the SMS came through {other} {took:.1f} s after the ask")
