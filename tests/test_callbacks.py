"""Delivery-report callbacks: token, each vendor's format and answer, forward-only states."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from project import create_app
from project.redis_store import REPORT_METRICS_KEY, get_ledger, get_redis
from tests.conftest import CALLBACK_TOKEN, attempt_send

pytestmark = pytest.mark.code_store

MOBILE = "13812345678"
ANSWERS = {"aliyun": {"code": 0, "msg": "接收成功"}, "tencent": {"result": 0, "errmsg": "OK"}}


@pytest.fixture
def vendor_app(vendor_settings):
    return create_app({**vendor_settings, "SMS_PROVIDER": "aliyun,tencent"})


@pytest.fixture
def sims(aliyun_sim, tencent_sim):
    return {"aliyun": aliyun_sim, "tencent": tencent_sim}


def sent_through(app, vendor: str, sims) -> tuple[str, dict]:
    """Send one SMS through ``vendor`` (the other's circuit is not involved); its record."""
    send_id = uuid.uuid4().hex
    if vendor == "tencent":
        sims["aliyun"].script({"code": "isv.AMOUNT_NOT_ENOUGH"})  # aliyun refuses: failover
    result = attempt_send(app, send_id, MOBILE, ["123456", "5"], "138****5678")
    assert result.provider == vendor
    [record] = sims[vendor].delivered()
    return send_id, record


def state_of(app, send_id: str) -> dict:
    with app.app_context():
        return next(s for s in get_ledger().last_sends(MOBILE) if s["id"] == send_id)


def report_counts(app) -> dict[str, int]:
    raw = get_redis(app).hgetall(REPORT_METRICS_KEY)
    return {k.decode(): int(v) for k, v in raw.items()}


@pytest.mark.parametrize("vendor", ["aliyun", "tencent"])
def test_a_report_in_the_vendors_format_marks_the_send_delivered(vendor_app, sims, vendor):
    send_id, record = sent_through(vendor_app, vendor, sims)
    report = sims[vendor].report_for(record, success=True)

    answer = vendor_app.test_client().post(
        f"/callbacks/{vendor}/sms-report?token={CALLBACK_TOKEN}", json=[report]
    )

    assert (answer.status_code, answer.json) == (200, ANSWERS[vendor])
    send = state_of(vendor_app, send_id)
    assert (send["state"], send["provider"], send["mobile"]) == ("delivered", vendor, "138****5678")
    assert send["report_code"] in {"DELIVERED", "DELIVRD"}
    assert report_counts(vendor_app) == {f"{vendor}:delivered": 1}
    metrics = vendor_app.test_client().get("/metrics").text
    assert f'sms_delivery_seconds_count{{provider="{vendor}"}} 1.0' in metrics


@pytest.mark.parametrize("vendor", ["aliyun", "tencent"])
@pytest.mark.parametrize("token", [None, "", "wrong", CALLBACK_TOKEN[:-1], CALLBACK_TOKEN + "x"])
def test_a_wrong_or_missing_token_is_403_and_records_nothing(vendor_app, sims, vendor, token):
    send_id, record = sent_through(vendor_app, vendor, sims)
    query = "" if token is None else f"?token={token}"

    answer = vendor_app.test_client().post(
        f"/callbacks/{vendor}/sms-report{query}", json=[sims[vendor].report_for(record, True)]
    )

    assert answer.status_code == 403
    assert answer.json["error"] == "forbidden"
    assert state_of(vendor_app, send_id)["state"] == "sent"
    assert report_counts(vendor_app) == {}


def test_without_a_configured_token_the_callbacks_do_not_exist(vendor_settings):
    app = create_app({**vendor_settings, "SMS_PROVIDER": "aliyun", "SMS_CALLBACK_TOKEN": ""})

    answer = app.test_client().post("/callbacks/aliyun/sms-report?token=", json=[])

    assert answer.status_code == 404 and answer.json["error"] == "not_found"


def test_an_unknown_vendor_is_404(vendor_app):
    answer = vendor_app.test_client().post(
        f"/callbacks/ronglian/sms-report?token={CALLBACK_TOKEN}", json=[]
    )

    assert answer.status_code == 404


@pytest.mark.parametrize("vendor", ["aliyun", "tencent"])
def test_a_report_for_an_unknown_id_is_counted_and_answered_ok(vendor_app, sims, vendor):
    record = {"phone": MOBILE, "biz_id": "123^0", "serial_no": "2640:1", "at": 0}

    answer = vendor_app.test_client().post(
        f"/callbacks/{vendor}/sms-report?token={CALLBACK_TOKEN}",
        json=[sims[vendor].report_for(record, True)],
    )

    assert (answer.status_code, answer.json) == (200, ANSWERS[vendor])
    assert report_counts(vendor_app) == {f"{vendor}:unknown": 1}


def test_a_repeated_or_contrary_report_changes_nothing(vendor_app, sims):
    send_id, record = sent_through(vendor_app, "aliyun", sims)
    client = vendor_app.test_client()
    url = f"/callbacks/aliyun/sms-report?token={CALLBACK_TOKEN}"
    delivered = sims["aliyun"].report_for(record, True)

    for body in ([delivered], [delivered], [sims["aliyun"].report_for(record, False)]):
        assert client.post(url, json=body).status_code == 200

    assert state_of(vendor_app, send_id)["state"] == "delivered"
    assert report_counts(vendor_app) == {"aliyun:delivered": 1, "aliyun:duplicate": 2}


def test_a_failed_report_marks_the_send_failed(vendor_app, sims):
    send_id, record = sent_through(vendor_app, "tencent", sims)

    vendor_app.test_client().post(
        f"/callbacks/tencent/sms-report?token={CALLBACK_TOKEN}",
        json=[sims["tencent"].report_for(record, False)],
    )

    send = state_of(vendor_app, send_id)
    assert (send["state"], send["report_code"]) == ("failed", "UNDELIV")


@pytest.mark.parametrize(
    "body", [{"biz_id": "1"}, [1, 2], [{"success": True}], [{"biz_id": "1", "success": "yes"}]]
)
def test_a_body_not_in_the_format_is_a_clear_400(vendor_app, body):
    answer = vendor_app.test_client().post(
        f"/callbacks/aliyun/sms-report?token={CALLBACK_TOKEN}", json=body
    )

    assert answer.status_code == 400
    assert answer.json["error"] == "invalid_request"


def test_a_body_that_is_not_json_is_a_clear_400(vendor_app):
    answer = vendor_app.test_client().post(
        f"/callbacks/tencent/sms-report?token={CALLBACK_TOKEN}", data=b"\xff{"
    )

    assert answer.status_code == 400 and answer.json["error"] == "invalid_request"


def test_flask_sms_status_prints_the_last_sends_masked(vendor_app, sims):
    send_id, record = sent_through(vendor_app, "aliyun", sims)
    vendor_app.test_client().post(
        f"/callbacks/aliyun/sms-report?token={CALLBACK_TOKEN}",
        json=[sims["aliyun"].report_for(record, True)],
    )

    result = vendor_app.test_cli_runner().invoke(args=["sms", "status", MOBILE])

    assert result.exit_code == 0
    [line] = result.output.splitlines()
    assert send_id in line and "138****5678" in line and MOBILE not in line
    assert "provider=aliyun" in line and "state=delivered" in line and "DELIVERED" in line


def test_flask_sms_status_refuses_a_bad_mobile_and_says_when_there_is_nothing(vendor_app):
    runner = vendor_app.test_cli_runner()

    bad = runner.invoke(args=["sms", "status", "12345"])
    none = runner.invoke(args=["sms", "status", MOBILE])

    assert bad.exit_code == 2 and "MOBILE" in bad.output
    assert none.exit_code == 0 and "no recent sends to 138****5678" in none.output


def test_a_large_batch_of_reports_is_taken_whole(vendor_app, sims):
    send_id, record = sent_through(vendor_app, "aliyun", sims)
    unknown = [{**record, "biz_id": f"{n}^0"} for n in range(2000)]
    batch = [sims["aliyun"].report_for(r, True) for r in [*unknown, record]]

    answer = vendor_app.test_client().post(
        f"/callbacks/aliyun/sms-report?token={CALLBACK_TOKEN}", json=batch
    )

    assert answer.status_code == 200
    assert state_of(vendor_app, send_id)["state"] == "delivered"
    assert report_counts(vendor_app) == {"aliyun:delivered": 1, "aliyun:unknown": 2000}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
REPORT_KEYS = st.sampled_from(["biz_id", "success", "sid", "report_status", "report_time"])


@pytest.mark.parametrize("vendor", ["aliyun", "tencent"])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=JSON | st.lists(st.dictionaries(REPORT_KEYS, JSON, max_size=5), max_size=3))
def test_any_json_body_is_answered_200_or_a_clear_400_never_a_500(vendor_app, vendor, body):
    answer = vendor_app.test_client().post(
        f"/callbacks/{vendor}/sms-report?token={CALLBACK_TOKEN}", json=body
    )

    assert answer.status_code in {200, 400}
    if answer.status_code == 400:
        assert answer.json["error"] == "invalid_request"
