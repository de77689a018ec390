"""Across real processes: gunicorn, Celery workers, a private Redis, the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import (
    ACC_TOKEN,
    ALIYUN_KEY_SECRET,
    CALLBACK_TOKEN,
    TENCENT_SECRET_KEY,
)

MOBILE = "13812345678"
API_KEY = "backend0key0never0in0any0log000002"


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_a_post_sends_exactly_one_correctly_signed_sms(start_web, start_worker, sim, pool):
    start_worker(pool=pool)
    web = start_web()

    answer = requests.post(f"{web}/users/sms/{MOBILE}", timeout=5)

    assert answer.status_code == 200
    assert answer.json() == {"errmsg": "OK", "interval": 60, "expires_in": 300}
    [sms] = sim.wait_for(1)
    assert sms["to"] == MOBILE
    assert sms["templateId"] == "1"
    code, minutes = sms["datas"]
    assert len(code) == 6 and code.isdigit()
    assert minutes == "5"
    time.sleep(0.5)
    assert len(sim.requests()) == 1


def test_fifty_concurrent_posts_for_one_mobile_send_one_sms(start_web, start_worker, sim):
    start_worker(pool="threads", concurrency=4)
    web = start_web(workers=2, threads=8)

    with ThreadPoolExecutor(50) as pool:
        answers = list(
            pool.map(lambda _: requests.post(f"{web}/users/sms/{MOBILE}", timeout=10), range(50))
        )

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [429] * 49
    refused = [a for a in answers if a.status_code == 429]
    assert all(a.json()["error"] == "cooldown" for a in refused)
    assert all(1 <= int(a.headers["Retry-After"]) <= 60 for a in refused)
    sim.wait_for(1)
    time.sleep(1)
    assert len(sim.requests()) == 1


@pytest.mark.parametrize("pool", ["prefork", "threads", "gevent"])
def test_no_secret_reaches_any_output_of_web_or_worker(
    start_web, start_worker, sim, services, pool
):
    # Voice codes and verification tokens too: the call, its result notice, a redeem.
    env = {"SMS_API_KEYS": API_KEY, "SMS_CALLBACK_TOKEN": CALLBACK_TOKEN}
    env["SMS_PUBLIC_URL"] = "https://sms.example.com"
    start_worker(env=env, pool=pool)
    web = start_web(env=env, extra=["--access-logfile", "-", "--log-level", "debug"])
    voice_mobile = "13700001111"

    assert requests.post(f"{web}/users/sms/{MOBILE}", timeout=5).status_code == 200
    assert requests.post(f"{web}/users/sms/{MOBILE}", timeout=5).status_code == 429
    [sms] = sim.wait_for(1)
    code = sms["datas"][0]
    voice = {"channel": "voice", "purpose": "login"}
    assert requests.post(f"{web}/users/sms/{voice_mobile}", json=voice, timeout=5).ok
    [_, call] = sim.wait_for(2)
    notice = f"{web}/callbacks/ronglian/voice?token={CALLBACK_TOKEN}"
    assert sim.push_voice_result(call, url=notice).status_code == 200
    verified = requests.post(
        f"{web}/users/sms/{voice_mobile}/verify",
        json={"code": call["verifyCode"], "purpose": "login"},
        timeout=5,
    ).json()
    token = verified["verification_token"]
    redeemed = requests.post(
        f"{web}/users/sms/verifications/redeem",
        json={"verification_token": token},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=5,
    )
    assert redeemed.json()["purpose"] == "login"
    sim.script({"drop": True})  # the SDK's failure path prints a traceback
    assert requests.post(f"{web}/users/sms/13987654321", timeout=5).status_code == 200
    sim.wait_for(3, delivered=False)
    time.sleep(0.5)

    secrets = (ACC_TOKEN, code, call["verifyCode"], token, API_KEY, CALLBACK_TOKEN)
    for service in services:
        text = service.output()
        assert "138****5678" in text, service.name  # the lines are there, masked
        for secret in (*secrets, MOBILE, "13987654321", voice_mobile):
            assert secret not in text, f"{secret!r} leaked into {service.name}"


@pytest.mark.parametrize("pool", ["prefork", "threads", "gevent"])
def test_no_vendor_secret_or_callback_token_reaches_any_output(
    start_web, start_worker, services, vendor_settings, aliyun_sim, tencent_sim, pool
):
    env = {**vendor_settings, "SMS_PROVIDER": "tencent,aliyun"}
    start_worker(env=env, pool=pool)
    web = start_web(env=env, extra=["--access-logfile", "-", "--log-level", "debug"])
    other = "13987654321"

    assert requests.post(f"{web}/users/sms/{MOBILE}", timeout=5).status_code == 200
    [via_tencent] = tencent_sim.wait_for(1)
    tencent_sim.script({"error": "AuthFailure.SecretIdNotFound"})  # fails over to Aliyun
    assert requests.post(f"{web}/users/sms/{other}", timeout=5).status_code == 200
    [via_aliyun] = aliyun_sim.wait_for(1)
    for sim, sms, vendor in (
        (tencent_sim, via_tencent, "tencent"),
        (aliyun_sim, via_aliyun, "aliyun"),
    ):
        callback = f"{web}/callbacks/{vendor}/sms-report?token="
        assert sim.push_report(callback + CALLBACK_TOKEN, sms).status_code == 200
        assert sim.push_report(callback + "wrong" + CALLBACK_TOKEN, sms).status_code == 403
    time.sleep(0.5)

    codes = (via_tencent["params"][0], via_aliyun["params"]["code"])
    for service in services:
        text = service.output()
        assert "138****5678" in text, service.name  # the lines are there, masked
        for secret in (TENCENT_SECRET_KEY, ALIYUN_KEY_SECRET, CALLBACK_TOKEN, ACC_TOKEN, *codes):
            assert secret not in text, f"{secret!r} leaked into {service.name}"
        assert MOBILE not in text and other not in text, service.name
    web_log = next(s.output() for s in services if s.name.startswith("gunicorn"))
    assert "sms-report?token=***" in web_log  # the access log's request lines, redacted


def test_with_redis_stopped_the_endpoint_answers_503_fast_and_recovers(
    start_web, start_worker, redis_server, sim
):
    start_worker(pool="threads")
    web = start_web()
    redis_server.stop()
    try:
        # A client is not held while Redis is away: a hung request raises here.
        answer = requests.post(f"{web}/users/sms/{MOBILE}", timeout=5)
    finally:
        redis_server.start()

    assert answer.status_code == 503
    assert answer.json()["error"] == "unavailable"
    answer = requests.post(f"{web}/users/sms/{MOBILE}", timeout=10)
    assert answer.status_code == 200, answer.text
    assert len(sim.wait_for(1, timeout=30)) == 1


@pytest.mark.parametrize(
    "typed",
    [
        "send_sms.delay('1', '13912345678', ['654321', '5'])",
        "send_sms.delay(tid='1', mobile='13912345678', datas=['654321', '5'])",
    ],
    ids=["positional", "keywords"],
)
def test_send_sms_delay_typed_in_flask_shell_sends_that_sms_and_leaks_nothing(
    start_worker, sim, settings, typed
):
    json_logs = {"LOG_FORMAT": "json"}
    worker = start_worker(env=json_logs, pool="threads")
    flask = Path(sys.executable).parent / "flask"

    shell = subprocess.run(
        [str(flask), "--app", "wsgi", "shell"],
        input=typed + "\n",
        text=True,
        capture_output=True,
        timeout=60,
        env={**os.environ, **settings, **json_logs},
    )

    assert shell.returncode == 0, shell.stderr
    [sms] = sim.wait_for(1)
    assert (sms["to"], sms["datas"]) == ("13912345678", ["654321", "5"])
    time.sleep(0.5)
    lines = [line for line in worker.output().splitlines() if line.startswith("{")]
    assert lines and all(json.loads(line) for line in lines)
    text = worker.output() + shell.stdout + shell.stderr
    assert "139****5678" in text
    for secret in ("13912345678", "654321"):
        assert secret not in text, f"{secret} leaked"
