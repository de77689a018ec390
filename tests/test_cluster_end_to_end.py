"""The whole path with the code store on a 3-master Redis Cluster.

gunicorn and a worker keep codes, limits, the send ledger, the send records
and the provider breaker on the cluster; the broker stays on the single
Redis (Celery cannot use a cluster as broker).
"""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.slow

MOBILE = "13812345678"


def test_a_code_sent_and_verified_with_the_store_on_a_cluster(
    redis_cluster, start_web, start_worker, sim
):
    cluster = {"REDIS_CLUSTER_NODES": redis_cluster.addresses}
    redis_cluster.flushall()
    worker = start_worker(env=cluster, pool="threads")
    web = start_web(env=cluster)

    assert requests.post(f"{web}/users/sms/{MOBILE}", timeout=10).status_code == 200
    [sms] = sim.wait_for(1, timeout=30)
    code = sms["datas"][0]

    guess = "000000" if code != "000000" else "111111"
    wrong = requests.post(f"{web}/users/sms/{MOBILE}/verify", json={"code": guess}, timeout=10)
    right = requests.post(f"{web}/users/sms/{MOBILE}/verify", json={"code": code}, timeout=10)

    assert sms["to"] == MOBILE
    assert wrong.json()["error"] == "wrong_code"
    assert right.status_code == 200
    keys = redis_cluster.client().keys("*", target_nodes="primaries")
    assert any(k.startswith(b"sms:{" + MOBILE.encode()) for k in keys)
    assert "Traceback" not in worker.output() and "ERROR" not in worker.output()
