"""Flower, the monitor Celery teams open, pointed at a real worker that sent SMS.

It must show the sends (the operator's view) and nothing a log may not hold:
no code, no sealed code, no full mobile, no token or secret.
"""

from __future__ import annotations

import time

import pytest
import requests

from project import create_app
from tests.conftest import ACC_TOKEN
from tools.redis_server import free_port
from tools.services import flower

SECRET_KEY = "flower-test-secret-key-0123456789abcdef"
AUTH = ("ops", "flower-password-0123")
FAST_RETRIES = {"SMS_RETRY_BACKOFF": "0.2", "SMS_RETRY_BACKOFF_MAX": "1"}


def test_flower_shows_the_sends_and_no_code_mobile_or_secret(
    start_worker, services, settings, sim, tmp_path
):
    pytest.importorskip("flower")
    env = {**settings, "SECRET_KEY": SECRET_KEY, **FAST_RETRIES}
    # -E: the worker sends task events (worker_send_task_events stays off by default).
    start_worker(env, pool="threads", extra=["-E"])
    port = free_port()
    monitor = flower(env, port, tmp_path, extra=[f"--basic-auth={AUTH[0]}:{AUTH[1]}"]).start()
    services.append(monitor)
    base = f"http://127.0.0.1:{port}"
    monitor.wait_for_http(f"{base}/healthcheck")
    assert requests.get(f"{base}/api/tasks", timeout=5).status_code == 401  # no auth, no API

    app = create_app(env)
    client = app.test_client()
    mobiles: list[str] = []
    tasks: dict = {}
    deadline = time.monotonic() + 60
    # Flower sees only the events sent while it listens: send until it saw one
    # retried send end whose retry's start it saw too (a task it saw only end has no name).
    while not any(t["state"] == "SUCCESS" and t["name"] and t["retries"] for t in tasks.values()):
        assert time.monotonic() < deadline, f"Flower saw no finished retried send: {tasks}"
        mobile = f"1390000{len(mobiles):04d}"
        sim.script({"http": 500})  # every send is retried once: its retry must be masked too
        assert client.post(f"/users/sms/{mobile}").status_code == 200
        mobiles.append(mobile)
        time.sleep(1)
        tasks = requests.get(f"{base}/api/tasks", auth=AUTH, timeout=5).json()

    sends = [t for t in tasks.values() if t["name"] == "send_sms"]
    masked = [f"{mobile[:3]}****{mobile[-4:]}" for mobile in mobiles]  # as in the logs
    # Flower may have missed the first sends' start; every send it saw shows one masked.
    assert sends and all(any(m in t["args"] for m in masked) for t in sends)
    pages = [requests.get(f"{base}/api/tasks", auth=AUTH, timeout=5).text]
    for task_id in tasks:
        page = requests.get(f"{base}/task/{task_id}", auth=AUTH, timeout=5)
        assert page.status_code == 200 and task_id in page.text
        pages.append(page.text)
        pages.append(requests.get(f"{base}/api/task/info/{task_id}", auth=AUTH, timeout=5).text)
    pages.append(requests.get(f"{base}/tasks", auth=AUTH, timeout=5).text)
    table = requests.get(  # what the tasks page loads into its table
        f"{base}/tasks/datatable",
        params={
            "draw": 1,
            "start": 0,
            "length": 100,
            "search[value]": "",
            "order[0][column]": 0,
            "columns[0][data]": "name",
            "order[0][dir]": "asc",
        },
        auth=AUTH,
        timeout=5,
    )
    assert table.status_code == 200 and "139****" in table.text
    pages.append(table.text)
    seen = "\n".join(pages)

    codes = [sms["datas"][0] for sms in sim.requests() if sms["datas"]]
    assert codes, "the worker sent no SMS"
    for mobile in mobiles:
        assert mobile not in seen
    for code in codes:
        assert f"'{code}'" not in seen and f'"{code}"' not in seen
    for secret in (ACC_TOKEN, SECRET_KEY, AUTH[1], "gAAAAA"):  # gAAAAA: a sealed code
        assert secret not in seen
