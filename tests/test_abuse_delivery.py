"""The abuse defence across real processes: a Celery worker, beat, the RongLian simulator."""

from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from project import create_app

ANSWER = "QZ7K"
PUMPED = [f"1701234{n:04d}" for n in range(10)]


def gauges(client) -> dict[str, float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def send(client, mobile, address, **fields):
    return client.post(
        f"/users/sms/{mobile}", json=fields or None, environ_base={"REMOTE_ADDR": address}
    )


@pytest.fixture
def pumping(settings):
    return {
        **settings,
        "SMS_CAPTCHA": "auto",
        "SMS_CAPTCHA_TEST_ANSWER": ANSWER,
        "SMS_CONVERSION_MIN_ISSUED": "10",
        "SMS_CONVERSION_ALARM_RATIO": "0.5",
        "SMS_CONVERSION_CHECK_INTERVAL": "1",
    }


def test_a_pumping_run_raises_the_alarm_and_verified_codes_clear_it(
    pumping, start_worker, start_beat, sim
):
    worker = start_worker(env=pumping, pool="threads")
    client = create_app(pumping).test_client()

    # Ten codes to one range from ten addresses; nobody verifies them.
    for n, mobile in enumerate(PUMPED):
        assert send(client, mobile, f"198.51.100.{n}").status_code == 200
    codes = {sms["to"]: sms["datas"][0] for sms in sim.wait_for(len(PUMPED))}
    beat = start_beat(env=pumping)

    worker.wait_for_output("conversion alarm: 10 codes issued in the last hour, 0 verified")
    assert "ERROR" in next(
        line for line in worker.output().splitlines() if "conversion alarm:" in line
    )
    metrics = gauges(client)
    assert metrics["sms_conversion_alarm"] == 1
    assert metrics["sms_conversion_ratio"] == 0
    assert metrics["sms_codes_issued_last_hour"] == 10

    # Now a fresh address asking for a fresh range needs a captcha.
    refused = send(client, "13612345678", "192.0.2.1")
    assert refused.json["error"] == "captcha_required"
    captcha_id = client.get("/captcha").json["captcha_id"]
    assert (
        send(client, "13612345678", "192.0.2.1", captcha_id=captcha_id, captcha=ANSWER).status_code
        == 200
    )

    # Six of the eleven codes verified: the ratio is back above 0.5.
    for mobile in PUMPED[:6]:
        answer = client.post(f"/users/sms/{mobile}/verify", json={"code": codes[mobile]})
        assert answer.status_code == 200
    mark = len(worker.output())
    worker.wait_for_output("conversion alarm cleared", after=mark)
    metrics = gauges(client)
    assert metrics["sms_conversion_alarm"] == 0
    assert metrics["sms_codes_verified_total"] == 6
    assert metrics["sms_codes_verified_last_hour"] == 6
    assert send(client, "13612345679", "192.0.2.2").status_code == 200
    assert "Sending due task check-conversion" in beat.output()


def test_a_test_number_gets_its_fixed_code_and_the_simulator_receives_nothing(
    settings, start_worker, sim
):
    env = {**settings, "SMS_TEST_NUMBERS": "13700000001:246810,13700000002:135790"}
    start_worker(env=env, pool="threads")
    client = create_app(env).test_client()

    assert client.post("/users/sms/13700000001").status_code == 200
    assert client.post("/users/sms/13812345678").status_code == 200  # a real one, to compare

    [sms] = sim.wait_for(1)
    assert sms["to"] == "13812345678"
    assert [r["to"] for r in sim.requests()] == ["13812345678"]
    wrong = client.post("/users/sms/13700000001/verify", json={"code": "135790"})
    assert wrong.json["error"] == "wrong_code"
    assert client.post("/users/sms/13700000001/verify", json={"code": "246810"}).status_code == 200
    metrics = gauges(client)
    assert metrics["sms_test_codes_issued_total"] == 1
    assert metrics["sms_codes_issued_total"] == 1
    assert metrics["sms_codes_verified_total"] == 0


def test_behind_a_proxy_each_client_address_counts_apart(start_web):
    web = start_web(env={"SMS_CAPTCHA": "auto", "TRUSTED_PROXY_COUNT": "1"})

    def post(mobile, client):
        headers = {"X-Forwarded-For": client}
        return requests.post(f"{web}/users/sms/{mobile}", headers=headers, timeout=5)

    for n in range(3):
        assert post(f"1391234000{n}", "203.0.113.1").status_code == 200
    fourth = post("13912340009", "203.0.113.1")
    other = post("13912340008", "203.0.113.2")

    assert (fourth.status_code, fourth.json()["error"]) == (400, "captcha_required")
    assert fourth.json()["errmsg"]  # in the request's language
    assert other.status_code == 200
