"""The Aliyun and Tencent providers against their simulators: signature, fields, verdicts."""

from __future__ import annotations

import logging

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from config import ConfigError, load_config
from project.providers import Action
from project.providers.aliyun import status as aliyun_status
from project.providers.aliyun.provider import AliyunProvider
from project.providers.tencent import status as tencent_status
from project.providers.tencent.provider import TencentProvider
from tests.conftest import (
    ALIYUN_KEY_ID,
    ALIYUN_KEY_SECRET,
    ALIYUN_TEMPLATES,
    SIGN_NAME,
    TENCENT_APP_ID,
    TENCENT_SECRET_ID,
    TENCENT_SECRET_KEY,
    TENCENT_TEMPLATES,
)

MOBILE = "13812345678"


def aliyun(url: str, secret: str = ALIYUN_KEY_SECRET, minutes: str | None = None) -> AliyunProvider:
    return AliyunProvider(
        ALIYUN_KEY_ID,
        secret,
        SIGN_NAME,
        ALIYUN_TEMPLATES,
        "register",
        "http",
        url.removeprefix("http://"),
        timeout=3.0,
        minutes_variable=minutes,
    )


def tencent(url: str, secret: str = TENCENT_SECRET_KEY) -> TencentProvider:
    return TencentProvider(
        TENCENT_SECRET_ID,
        secret,
        TENCENT_APP_ID,
        SIGN_NAME,
        TENCENT_TEMPLATES,
        "register",
        "ap-guangzhou",
        "http",
        url.removeprefix("http://"),
        timeout=3.0,
    )


# ----- Aliyun -----------------------------------------------------------------


def test_aliyun_sends_one_signed_request_with_the_purposes_template_and_keeps_the_biz_id(
    aliyun_sim,
):
    result = aliyun(aliyun_sim.url).send("1", MOBILE, ["123456", "5"], purpose="login")

    assert result.ok and result.provider == "aliyun"
    [request] = aliyun_sim.requests()
    assert request["signed"] and request["status"] == "OK"
    assert (request["phone"], request["sign"], request["template"]) == (
        MOBILE,
        SIGN_NAME,
        "SMS_100002",
    )
    assert request["params"] == {"code": "123456"}
    assert result.message_id == request["biz_id"]


def test_aliyun_passes_the_minutes_when_the_template_has_that_variable(aliyun_sim):
    aliyun(aliyun_sim.url, minutes="min").send("1", MOBILE, ["123456", "5"])

    [request] = aliyun_sim.requests()
    assert request["params"] == {"code": "123456", "min": "5"}
    assert request["template"] == "SMS_100001"  # no purpose: the first of SMS_PURPOSES


def test_aliyun_wrong_secret_is_refused_by_the_signature_check_and_may_fail_over(aliyun_sim):
    result = aliyun(aliyun_sim.url, secret="not-the-secret").send("1", MOBILE, ["1", "5"])

    assert result.status_code == "SignatureDoesNotMatch"
    assert (result.verdict.action, result.failover) == (Action.GIVE_UP, True)


@pytest.mark.parametrize(
    ("answer", "code", "action", "failover"),
    [
        ({"code": "isp.SYSTEM_ERROR"}, "isp.SYSTEM_ERROR", Action.RETRY, False),
        ({"code": "isv.MOBILE_NUMBER_ILLEGAL"}, "isv.MOBILE_NUMBER_ILLEGAL", Action.GIVE_UP, False),
        (
            {"code": "isv.BUSINESS_LIMIT_CONTROL"},
            "isv.BUSINESS_LIMIT_CONTROL",
            Action.GIVE_UP,
            False,
        ),
        ({"code": "isv.AMOUNT_NOT_ENOUGH"}, "isv.AMOUNT_NOT_ENOUGH", Action.GIVE_UP, True),
        ({"http": 503}, "ServiceUnavailable", Action.RETRY, True),
        ({"http": 500}, "InternalError", Action.RETRY, False),
        ({"drop": True}, "NetworkError", Action.RETRY, False),  # may have been accepted
    ],
)
def test_aliyun_answers_become_verdicts(aliyun_sim, answer, code, action, failover):
    aliyun_sim.script(answer)

    result = aliyun(aliyun_sim.url).send("1", MOBILE, ["123456", "5"])

    assert (result.status_code, result.verdict.action, result.failover) == (code, action, failover)


def test_aliyun_refused_connection_is_safe_to_fail_over(unused_port):
    result = aliyun(f"http://127.0.0.1:{unused_port}").send("1", MOBILE, ["123456", "5"])

    assert (result.verdict.action, result.failover) == (Action.RETRY, True)


def test_aliyun_read_timeout_is_not_safe_to_fail_over(aliyun_sim):
    aliyun_sim.script({"hold": 4})

    result = aliyun(aliyun_sim.url).send("1", MOBILE, ["123456", "5"])  # timeout 3 s

    assert (result.verdict.action, result.failover) == (Action.RETRY, False)


def test_the_aliyun_simulator_refuses_a_replayed_nonce(aliyun_sim, monkeypatch):
    captured = {}
    original = requests.Session.send

    def keep(session, request, **kwargs):  # a copy of what went on the wire
        captured["request"] = request.copy()
        return original(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", keep)
    assert aliyun(aliyun_sim.url).send("1", MOBILE, ["123456", "5"]).ok
    monkeypatch.undo()
    replay = requests.Session().send(captured["request"], timeout=5)

    assert replay.status_code == 400 and replay.json()["Code"] == "SignatureNonceUsed"
    assert len(aliyun_sim.delivered()) == 1


# ----- Tencent ----------------------------------------------------------------


def test_tencent_sends_one_signed_request_in_plus86_form_and_keeps_the_serial_no(tencent_sim):
    result = tencent(tencent_sim.url).send("1", MOBILE, ["123456", "5"], purpose="reset_password")

    assert result.ok and result.provider == "tencent"
    [request] = tencent_sim.requests()
    assert request["signed"] and request["status"] == "Ok"
    assert request["phone"] == f"+86{MOBILE}"
    assert (request["app_id"], request["sign"], request["template"]) == (
        TENCENT_APP_ID,
        SIGN_NAME,
        "200003",
    )
    assert request["params"] == ["123456", "5"]
    assert request["region"] == "ap-guangzhou"
    assert result.message_id == request["serial_no"]


def test_tencent_wrong_secret_is_refused_by_the_signature_check_and_may_fail_over(tencent_sim):
    result = tencent(tencent_sim.url, secret="not-the-key").send("1", MOBILE, ["1", "5"])

    assert result.status_code == "AuthFailure.SignatureFailure"
    assert (result.verdict.action, result.failover) == (Action.GIVE_UP, True)


@pytest.mark.parametrize(
    ("answer", "code", "action", "failover"),
    [
        ({"error": "InternalError.Timeout"}, "InternalError.Timeout", Action.RETRY, False),
        ({"error": "RequestLimitExceeded"}, "RequestLimitExceeded", Action.RETRY, False),
        (
            {"status": "InvalidParameterValue.IncorrectPhoneNumber"},
            "InvalidParameterValue.IncorrectPhoneNumber",
            Action.GIVE_UP,
            False,
        ),
        (
            {"status": "LimitExceeded.PhoneNumberDailyLimit"},
            "LimitExceeded.PhoneNumberDailyLimit",
            Action.GIVE_UP,
            False,
        ),
        ({"http": 502}, "ServerNetworkError", Action.RETRY, False),
        ({"drop": True}, "ClientNetworkError", Action.RETRY, False),
    ],
)
def test_tencent_answers_become_verdicts(tencent_sim, answer, code, action, failover):
    tencent_sim.script(answer)

    result = tencent(tencent_sim.url).send("1", MOBILE, ["123456", "5"])

    assert (result.status_code, result.verdict.action, result.failover) == (code, action, failover)


def test_tencent_refused_connection_is_safe_to_fail_over(unused_port):
    result = tencent(f"http://127.0.0.1:{unused_port}").send("1", MOBILE, ["123456", "5"])

    assert (result.verdict.action, result.failover) == (Action.RETRY, True)


# ----- both: silence, tables, settings -------------------------------------------


def test_the_sdks_print_and_log_nothing_secret_even_at_debug(
    aliyun_sim, tencent_sim, capfd, caplog, unused_port
):
    caplog.set_level(logging.DEBUG)
    for provider in (aliyun(aliyun_sim.url), tencent(tencent_sim.url)):
        provider.send("1", MOBILE, ["654321", "5"])
    aliyun_sim.script({"drop": True})
    tencent_sim.script({"drop": True})
    for provider in (aliyun(aliyun_sim.url), tencent(tencent_sim.url)):
        provider.send("1", MOBILE, ["654321", "5"])
    tencent(f"http://127.0.0.1:{unused_port}").send("1", MOBILE, ["654321", "5"])

    out, err = capfd.readouterr()
    text = out + err + caplog.text
    for secret in (ALIYUN_KEY_SECRET, TENCENT_SECRET_KEY, "654321", MOBILE):
        assert secret not in text


@pytest.mark.parametrize(
    ("table", "code", "action"),
    [
        (aliyun_status, "isp.SYSTEM_ERROR", Action.RETRY),
        (aliyun_status, "isv.MOBILE_NUMBER_ILLEGAL", Action.GIVE_UP),
        (aliyun_status, "OK", Action.SENT),
        (tencent_status, "InternalError.Timeout", Action.RETRY),
        (tencent_status, "InvalidParameterValue.IncorrectPhoneNumber", Action.GIVE_UP),
        (tencent_status, "Ok", Action.SENT),
    ],
)
def test_the_contracts_examples_are_sorted_as_it_says(table, code, action):
    assert table.classify(code).action is action


@given(st.text(max_size=40))
def test_an_unknown_code_is_retried_a_little_never_failed_over(code):
    for table in (aliyun_status, tencent_status):
        verdict = table.classify(code)
        if code not in {"OK", "Ok"} and verdict.reason == "unknown status":
            assert (verdict.action, verdict.max_retries, verdict.failover) == (
                Action.RETRY,
                2,
                False,
            )


def vendor_env(**changes: str) -> dict[str, str]:
    env = {
        "APP_CONFIG": "testing",
        "SMS_PROVIDER": "aliyun,tencent",
        "ALIYUN_ACCESS_KEY_ID": ALIYUN_KEY_ID,
        "ALIYUN_ACCESS_KEY_SECRET": ALIYUN_KEY_SECRET,
        "ALIYUN_SIGN_NAME": SIGN_NAME,
        "ALIYUN_TEMPLATES": "register:SMS_1,login:SMS_2,reset_password:SMS_3",
        "TENCENT_SECRET_ID": TENCENT_SECRET_ID,
        "TENCENT_SECRET_KEY": TENCENT_SECRET_KEY,
        "TENCENT_SMS_SDK_APP_ID": TENCENT_APP_ID,
        "TENCENT_SIGN_NAME": SIGN_NAME,
        "TENCENT_TEMPLATES": "register:1,login:2,reset_password:3",
    }
    return {**env, **changes}


def test_a_complete_chain_configuration_loads():
    config = load_config(vendor_env())

    assert config.SMS_PROVIDERS == ["aliyun", "tencent"]
    assert config.ALIYUN_TEMPLATES["login"] == "SMS_2"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ALIYUN_TEMPLATES": "register:SMS_1,login:SMS_2"}, "ALIYUN_TEMPLATES"),
        ({"TENCENT_TEMPLATES": "register:1"}, "'login'"),
        ({"SMS_PURPOSES": "register,signup"}, "'signup'"),
        ({"ALIYUN_TEMPLATES": "register SMS_1"}, "ALIYUN_TEMPLATES must be purpose:id"),
        ({"TENCENT_SECRET_KEY": ""}, "TENCENT_SECRET_KEY"),
        ({"ALIYUN_ENDPOINT": "ftp://example.com"}, "ALIYUN_ENDPOINT"),
        ({"TENCENT_ENDPOINT": "http://example.com/path"}, "TENCENT_ENDPOINT"),
        ({"SMS_PROVIDER": "aliyun,aliyun"}, "SMS_PROVIDER must be"),
        ({"SMS_PROVIDER": "aliyun,console"}, "console cannot be part of a chain"),
        ({"SMS_PROVIDER": "aliyun,"}, "SMS_PROVIDER must be a comma-separated list"),
        ({"SMS_REPORT_TTL": "60"}, "SMS_REPORT_TTL"),
    ],
)
def test_an_incomplete_vendor_setting_refuses_to_start_naming_it(changes, message):
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(vendor_env(**changes))

    assert "\n" not in str(caught.value)
    assert ALIYUN_KEY_SECRET not in str(caught.value)


def test_the_missing_purpose_and_the_setting_are_both_named():
    with pytest.raises(ConfigError) as caught:
        load_config(vendor_env(ALIYUN_TEMPLATES="register:SMS_1,reset_password:SMS_3"))

    assert "ALIYUN_TEMPLATES" in str(caught.value) and "'login'" in str(caught.value)


def test_flask_sms_check_shows_the_vendor_settings_with_their_secrets_masked(vendor_settings):
    from project import create_app
    from tests.conftest import CALLBACK_TOKEN

    app = create_app({**vendor_settings, "SMS_PROVIDER": "ronglian,aliyun,tencent"})

    result = app.test_cli_runner().invoke(args=["sms", "check"])

    assert "ALIYUN_ACCESS_KEY_SECRET" in result.output and "TENCENT_SECRET_KEY" in result.output
    for secret in (ALIYUN_KEY_SECRET, TENCENT_SECRET_KEY, CALLBACK_TOKEN):
        assert secret not in result.output


@pytest.mark.parametrize("vendor", ["aliyun", "tencent"])
def test_a_trickling_answer_is_cut_at_the_deadline_and_not_safe_to_fail_over(
    aliyun_sim, tencent_sim, vendor
):
    sim, build = {"aliyun": (aliyun_sim, aliyun), "tencent": (tencent_sim, tencent)}[vendor]
    sim.script({"trickle": 30})  # every byte arrives well within any socket time-out

    result = build(sim.url).send("1", MOBILE, ["123456", "5"])  # SMS_PROVIDER_TIMEOUT 3 s

    assert (result.verdict.action, result.failover) == (Action.RETRY, False)
    [request] = sim.wait_for(1, delivered=False, timeout=40)
    assert request["status"] == "abandoned"  # we hung up; the vendor saw it
