"""Aliyun, Tencent and the chain across real processes: gunicorn, Celery workers, simulators."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import requests

from tests.conftest import ALIYUN_TEMPLATES, CALLBACK_TOKEN, TENCENT_TEMPLATES
from tools.services import BIN, ROOT

MOBILE = "13812345678"
FAST_RETRIES = {"SMS_RETRY_BACKOFF": "0.2", "SMS_RETRY_BACKOFF_MAX": "1"}
CALLBACK_ANSWERS = {
    "aliyun": {"code": 0, "msg": "接收成功"},
    "tencent": {"result": 0, "errmsg": "OK"},
}
# Per vendor: a transient and a permanent answer from its own table, in its simulator's script.
FAILURES = {
    "aliyun": ({"code": "isp.SYSTEM_ERROR"}, {"code": "isv.MOBILE_NUMBER_ILLEGAL"}),
    "tencent": (
        {"error": "InternalError.Timeout"},
        {"status": "InvalidParameterValue.IncorrectPhoneNumber"},
    ),
}


def post(web: str, mobile: str = MOBILE) -> requests.Response:
    return requests.post(f"{web}/users/sms/{mobile}", timeout=10)


def mobile(n: int) -> str:
    return f"1390000{n:04d}"


def flask_sms_status(env: dict[str, str], number: str) -> str:
    """``flask --app wsgi sms status MOBILE``, exactly as an operator types it."""
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "sms", "status", number],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def wait_until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition never held")
        time.sleep(0.1)


@pytest.fixture
def sims(aliyun_sim, tencent_sim):
    return {"aliyun": aliyun_sim, "tencent": tencent_sim}


@pytest.mark.parametrize("vendor", ["aliyun", "tencent"])
def test_one_vendor_alone_sends_one_signed_sms_and_its_report_shows_in_status_and_metrics(
    start_web, start_worker, vendor_settings, sims, vendor
):
    env = {**vendor_settings, "SMS_PROVIDER": vendor}
    start_worker(env=env, pool="threads")
    web = start_web(env=env)
    sim = sims[vendor]

    assert post(web).status_code == 200

    [sms] = sim.wait_for(1)
    time.sleep(0.5)  # room for a wrong second request
    assert len(sim.requests()) == 1 and sms["signed"]
    if vendor == "aliyun":
        assert (sms["phone"], sms["template"]) == (MOBILE, ALIYUN_TEMPLATES["register"])
        code = sms["params"]["code"]
    else:
        assert (sms["phone"], sms["template"]) == (f"+86{MOBILE}", TENCENT_TEMPLATES["register"])
        code, minutes = sms["params"]
        assert minutes == "5"
    assert len(code) == 6 and code.isdigit()

    callback = f"{web}/callbacks/{vendor}/sms-report?token={CALLBACK_TOKEN}"
    answer = sim.push_report(callback, sms, success=True)

    assert (answer.status_code, answer.json()) == (200, CALLBACK_ANSWERS[vendor])
    [line] = flask_sms_status(env, MOBILE).splitlines()
    assert f"provider={vendor}" in line and "state=delivered" in line and "138****5678" in line
    metrics = requests.get(f"{web}/metrics", timeout=5).text
    assert f'sms_delivery_reports_total{{provider="{vendor}",status="delivered"}} 1.0' in metrics
    assert f'sms_delivery_seconds_count{{provider="{vendor}"}} 1.0' in metrics


@pytest.mark.parametrize("vendor", ["aliyun", "tencent"])
def test_one_vendor_alone_retries_its_transient_errors_and_not_its_permanent_ones(
    start_web, start_worker, vendor_settings, sims, vendor
):
    env = {**vendor_settings, "SMS_PROVIDER": vendor, **FAST_RETRIES}
    worker = start_worker(env=env, pool="threads")
    web = start_web(env=env)
    sim = sims[vendor]
    transient, permanent = FAILURES[vendor]
    transient_code = next(iter(transient.values()))
    permanent_code = next(iter(permanent.values()))

    sim.script(transient)
    assert post(web, mobile(1)).status_code == 200
    sim.wait_for(1)
    assert [r["status"] for r in sim.requests()] == [transient_code, sim.SUCCESS]

    sim.script(permanent)
    assert post(web, mobile(2)).status_code == 200
    worker.wait_for_output("failed for good")
    time.sleep(1.5)  # room for a wrong retry
    assert [r["status"] for r in sim.requests()][2:] == [permanent_code]
    assert len(sim.delivered()) == 1


def test_with_ronglian_refusing_connections_every_send_goes_through_aliyun_exactly_once(
    start_web, start_worker, vendor_settings, aliyun_sim, unused_port
):
    env = {
        **vendor_settings,
        "SMS_PROVIDER": "ronglian,aliyun",
        "RONGLIAN_BASE_URL": f"http://127.0.0.1:{unused_port}",
    }
    start_worker(env=env, pool="threads")
    web = start_web(env=env)
    numbers = [mobile(n) for n in range(1, 5)]

    for number in numbers:
        assert post(web, number).status_code == 200

    aliyun_sim.wait_for(len(numbers))
    time.sleep(1.5)
    assert sorted(r["phone"] for r in aliyun_sim.requests()) == numbers


def test_ronglian_auth_errors_fail_over_open_its_circuit_and_the_probe_brings_it_back(
    start_web, start_worker, vendor_settings, sim, aliyun_sim
):
    env = {
        **vendor_settings,
        "SMS_PROVIDER": "ronglian,aliyun",
        "SMS_BREAKER_FAILURES": "3",
        "SMS_BREAKER_COOLDOWN": "3",
    }
    start_worker(env=env, pool="threads")
    web = start_web(env=env)
    sim.script(*[{"status": "111109"}] * 3)  # Sig 校验失败: refused before acceptance

    for n in range(1, 4):
        assert post(web, mobile(n)).status_code == 200
        aliyun_sim.wait_for(n)
    assert [r["status"] for r in sim.requests()] == ["111109"] * 3

    assert post(web, mobile(4)).status_code == 200  # circuit open: straight to Aliyun
    aliyun_sim.wait_for(4)
    assert len(sim.requests()) == 3
    ready = requests.get(f"{web}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["providers"] == {"ronglian": "open", "aliyun": "closed"}

    wait_until(
        lambda: (
            requests.get(f"{web}/readyz", timeout=5).json()["providers"]["ronglian"] == "half_open"
        )
    )
    assert post(web, mobile(5)).status_code == 200  # the probe
    sim.wait_for(1)
    assert post(web, mobile(6)).status_code == 200  # traffic is back
    sim.wait_for(2)

    time.sleep(1)
    assert [r["to"] for r in sim.delivered()] == [mobile(5), mobile(6)]
    assert sorted(r["phone"] for r in aliyun_sim.requests()) == [mobile(n) for n in range(1, 5)]
    assert requests.get(f"{web}/readyz", timeout=5).json()["providers"]["ronglian"] == "closed"


def test_a_ronglian_read_timeout_is_never_sent_again_through_aliyun(
    start_web, start_worker, vendor_settings, sim, aliyun_sim
):
    env = {**vendor_settings, "SMS_PROVIDER": "ronglian,aliyun", **FAST_RETRIES}
    worker = start_worker(env=env, pool="threads")
    web = start_web(env=env)
    sim.script({"hold": 7})  # longer than the SDK's 5 s read timeout

    assert post(web).status_code == 200

    sim.wait_for(1, timeout=30)  # the retry, on RongLian again
    sim.wait_for(2, timeout=30, delivered=False)  # and the held request's end
    time.sleep(1)
    assert sorted(r["status"] for r in sim.requests()) == ["000000", "abandoned"]
    assert aliyun_sim.requests() == []
    assert "attempt 1 failed: statusCode 172001" in worker.output()
