"""Voice codes (语音验证码) and per-purpose templates, through real workers and the simulator."""

from __future__ import annotations

import time

import pytest
import requests

from project.providers.console import ConsoleProvider
from tests.conftest import ACC_ID, ACC_TOKEN, APP_ID, CALLBACK_TOKEN

MOBILE = "13812345678"
FAST_RETRIES = {"SMS_RETRY_BACKOFF": "0.2", "SMS_RETRY_BACKOFF_MAX": "1"}
VOICE = {
    "RONGLIAN_VOICE_DISPLAY_NUM": "02566668888",
    "SMS_PUBLIC_URL": "https://sms.example.com",
    "SMS_CALLBACK_TOKEN": CALLBACK_TOKEN,
}


def send(web: str, mobile: str = MOBILE, **fields) -> requests.Response:
    return requests.post(f"{web}/users/sms/{mobile}", json=fields, timeout=10)


def verify(web: str, code: str, mobile: str = MOBILE, **fields) -> requests.Response:
    return requests.post(
        f"{web}/users/sms/{mobile}/verify", json={"code": code, **fields}, timeout=10
    )


def test_a_voice_code_is_one_signed_voiceverify_call_whose_code_verifies(
    start_web, start_worker, sim
):
    start_worker(env=VOICE, pool="threads")
    web = start_web(env=VOICE)

    assert send(web, channel="voice", purpose="login").status_code == 200

    [call] = sim.wait_for(1)  # delivered: the simulator checked sig and Authorization
    time.sleep(0.5)
    assert len(sim.requests()) == 1
    assert call["kind"] == "voice" and call["to"] == MOBILE and call["appId"] == APP_ID
    assert call["playTimes"] == "2" and call["lang"] == "zh"
    assert call["displayNum"] == "02566668888" and call["userData"] == "login"
    assert call["respUrl"] == (
        f"https://sms.example.com/callbacks/ronglian/voice?token={CALLBACK_TOKEN}"
    )
    code = call["verifyCode"]
    assert verify(web, code, purpose="register").json()["error"] == "no_code"
    answer = verify(web, code, purpose="login")
    assert answer.status_code == 200 and answer.json()["verification_token"]


def test_the_voice_result_notice_is_recorded_behind_the_callback_token(
    start_web, start_worker, sim, runner
):
    start_worker(env=VOICE, pool="threads")
    web = start_web(env=VOICE)
    assert send(web, channel="voice").status_code == 200
    assert send(web, "13987654321", channel="voice").status_code == 200
    answered, missed = sorted(sim.wait_for(2), key=lambda r: r["to"] != MOBILE)
    notice = f"{web}/callbacks/ronglian/voice?token="

    assert sim.push_voice_result(answered, url=notice + "wrong").status_code == 403
    answer = sim.push_voice_result(answered, url=notice + CALLBACK_TOKEN)
    assert answer.status_code == 200
    assert "<statuscode>000000</statuscode>" in answer.text  # RongLian's XML, answered in kind
    as_json = {"action": "VoiceCode", "callSid": missed["callSid"], "state": "1"}
    answer = requests.post(notice + CALLBACK_TOKEN, json=as_json, timeout=10)
    assert (answer.status_code, answer.json()) == (200, {"statusCode": "000000"})

    status = runner.invoke(args=["sms", "status", MOBILE], env=VOICE)
    assert "delivered" in status.output and "voice:0" in status.output
    status = runner.invoke(args=["sms", "status", "13987654321"], env=VOICE)
    assert "failed" in status.output and "voice:1" in status.output


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<Request><action>Other</action></Request>",
        b"<Request><action>VoiceCode</action><state>0</state></Request>",  # no callSid
        b"<Request><action>VoiceCode",
        b'<!DOCTYPE r [<!ENTITY a "aaaa">]><Request><action>&a;</action></Request>',
        b'{"action": "VoiceCode", "callSid": "x", "state": true}',
        b"[1, 2]",
    ],
)
def test_a_voice_notice_not_in_ronglians_format_is_a_400(settings, body):
    from project import create_app

    client = create_app({**settings, **VOICE}).test_client()
    answer = client.post(
        f"/callbacks/ronglian/voice?token={CALLBACK_TOKEN}", data=body, content_type="text/plain"
    )
    assert (answer.status_code, answer.json["error"]) == (400, "invalid_request")


def test_the_cooldown_is_shared_by_sms_and_voice(start_web, start_worker, sim):
    start_worker(pool="threads")
    web = start_web()

    assert send(web, purpose="login").status_code == 200
    voice = send(web, channel="voice", purpose="login")
    assert (voice.status_code, voice.json()["error"]) == (429, "cooldown")
    other = send(web, channel="voice", purpose="reset_password")
    assert other.status_code == 429
    sim.wait_for(1)
    time.sleep(0.5)
    assert [r["kind"] for r in sim.requests()] == ["sms"]


def test_an_unknown_channel_is_refused(start_web):
    web = start_web()
    answer = send(web, channel="fax")
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request")


def test_voice_transient_failures_are_retried_into_exactly_one_call(start_web, start_worker, sim):
    worker = start_worker(env=FAST_RETRIES, pool="threads")
    web = start_web()
    sim.script({"drop": True}, {"http": 500})

    assert send(web, channel="voice").status_code == 200

    sim.wait_for(1)
    time.sleep(1.5)
    assert [r["status"] for r in sim.requests()] == ["dropped", "500", "000000"]
    assert sim.requests()[-1]["kind"] == "voice"
    log = worker.output()
    assert "attempt 1 failed: statusCode 172001" in log
    assert "attempt 2 failed: statusCode 500" in log


def test_the_simulator_sees_each_purposes_template(start_web, start_worker, sim):
    templates = {"RONGLIAN_TEMPLATES": "login:22,reset_password:33"}
    start_worker(env=templates, pool="threads")
    web = start_web(env=templates)
    mobiles = {"register": "13800000001", "login": "13800000002", "reset_password": "13800000003"}

    for purpose, mobile in mobiles.items():
        assert send(web, mobile, purpose=purpose).status_code == 200

    sent = {r["to"]: r["templateId"] for r in sim.wait_for(3)}
    assert sent == {
        mobiles["register"]: "1",
        mobiles["login"]: "22",
        mobiles["reset_password"]: "33",
    }


def test_a_wrongly_signed_voice_call_is_refused_by_the_simulator(app, sim):
    """The simulator checks the voice call's signature as it does the SMS's."""
    from project.providers.ronglian import RongLianProvider

    forged = RongLianProvider(
        "8aaf0708test0acc0id00000000000001", "not" + ACC_TOKEN, APP_ID, sim.url
    )
    result = forged.call(MOBILE, "123456", "login")
    assert (result.ok, result.status_code) == (False, "111109")


def test_console_prints_a_voice_code_with_a_masked_mobile(caplog):
    caplog.set_level("INFO")
    assert ConsoleProvider().call(MOBILE, "654321", "login").ok
    assert "voice call to 138****5678: code 654321" in caplog.text
    assert MOBILE not in caplog.text


@pytest.mark.parametrize("providers", ["aliyun"])
def test_voice_is_refused_when_no_provider_calls(app, vendor_settings, providers):
    from project import create_app

    vendor_app = create_app({**vendor_settings, "SMS_PROVIDER": providers})
    answer = vendor_app.test_client().post(f"/users/sms/{MOBILE}", json={"channel": "voice"})
    assert (answer.status_code, answer.json["error"]) == (400, "invalid_request")


def test_the_simulator_pushes_a_voice_result_when_asked_over_http(start_web, sim):
    """``POST /_sim/voice-result``: the standalone simulator's notice, as RongLian sends it."""
    from project.providers.ronglian import RongLianProvider

    web = start_web(env=VOICE)
    provider = RongLianProvider(ACC_ID, ACC_TOKEN, APP_ID, sim.url)
    placed = provider.call(MOBILE, "123456", "login")
    assert placed.ok and placed.message_id

    notice = f"{web}/callbacks/ronglian/voice?token={CALLBACK_TOKEN}"
    pushed = requests.post(f"{sim.url}/_sim/voice-result", json={"url": notice}, timeout=10)
    assert pushed.json() == {"statusCode": "000000", "pushed": 200}  # the service took it
    wrong = {"url": notice + "x"}
    assert (
        requests.post(f"{sim.url}/_sim/voice-result", json=wrong, timeout=10).json()["pushed"]
        == 403
    )
