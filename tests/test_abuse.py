"""The abuse defence in process, against the private Redis: captcha, risk, budgets.

"No SMS" here means nothing was put on the broker queue (the Redis list a
worker reads); tests/test_abuse_delivery.py shows the same with a worker
and the RongLian simulator.
"""

from __future__ import annotations

import base64
import io
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from PIL import Image

from project import create_app
from project.abuse.risk import client_key
from tests.conftest import store_keys

ANSWER = "QZ7K"
TEST_NUMBER, TEST_CODE = "13700000001", "246810"


pytestmark = pytest.mark.code_store


@pytest.fixture
def broker(redis_url):
    """The broker's Redis (the code store is ``store``: a single Redis or a cluster)."""
    return redis.Redis.from_url(redis_url)


def make_client(settings, **extra):
    return create_app({**settings, "SMS_CAPTCHA_TEST_ANSWER": ANSWER, **extra}).test_client()


@pytest.fixture
def auto(settings):
    return make_client(settings, SMS_CAPTCHA="auto")


def send(client, mobile, address="203.0.113.7", **fields):
    return client.post(
        f"/users/sms/{mobile}", json=fields or None, environ_base={"REMOTE_ADDR": address}
    )


def captcha(client):
    answer = client.get("/captcha")
    assert answer.status_code == 200
    return answer.json["captcha_id"]


def assert_nothing_left(store, broker, mobile):
    """No code, no cooldown, no daily count for ``mobile``, and no SMS queued."""
    assert store_keys(store, f"sms:*{mobile}*") == []
    assert broker.llen("celery") == 0


def test_the_captcha_is_a_png_data_url_whose_answer_redis_never_holds_in_clear(auto, store):
    answer = auto.get("/captcha")

    assert answer.status_code == 200
    body = answer.json
    assert body["errmsg"] == "OK" and body["expires_in"] == 300
    assert answer.headers["Cache-Control"] == "no-store"
    prefix, encoded = body["image"].split(",", 1)
    assert prefix == "data:image/png;base64"
    image = Image.open(io.BytesIO(base64.b64decode(encoded)))
    assert image.format == "PNG" and image.size == (160, 60)
    [key] = store_keys(store, "sms:captcha:*")
    assert key.decode() == f"sms:captcha:{body['captcha_id']}"
    assert 290 <= store.ttl(key) <= 300
    for key in store_keys(store):
        dumped = store.dump(key) or b""
        assert ANSWER.encode() not in dumped.upper(), key


def test_the_fourth_code_for_one_address_in_the_hour_needs_a_captcha(auto, store, broker):
    for n in range(3):
        assert send(auto, f"1391111000{n}").status_code == 200
    queued = broker.llen("celery")

    refused = send(auto, "13911110009")

    assert refused.status_code == 400
    assert refused.json["error"] == "captcha_required"
    assert refused.json["errmsg"]
    assert store_keys(store, "sms:*13911110009*") == [] and broker.llen("celery") == queued

    captcha_id = captcha(auto)
    answer = send(auto, "13911110009", captcha_id=captcha_id, captcha=ANSWER.lower())
    assert answer.status_code == 200
    assert broker.llen("celery") == queued + 1


@pytest.mark.parametrize("case", ["wrong", "reused", "expired", "unknown", "missing_answer"])
def test_a_bad_captcha_leaves_no_code_no_cooldown_and_no_sms(settings, store, case, broker):
    client = make_client(settings, SMS_CAPTCHA="always")
    captcha_id = captcha(client)
    answer = ANSWER
    if case == "wrong":
        answer = "AAAA"
    elif case == "reused":
        assert send(client, "13922220000", captcha_id=captcha_id, captcha=ANSWER).status_code == 200
        broker.delete("celery")
    elif case == "expired":
        store.pexpire(f"sms:captcha:{captcha_id}", 1)
        time.sleep(0.05)
    elif case == "unknown":
        captcha_id = "x" * 22

    fields = {"captcha_id": captcha_id}
    if case != "missing_answer":
        fields["captcha"] = answer
    refused = send(client, "13922221111", **fields)

    expected = "captcha_required" if case == "missing_answer" else "captcha_wrong"
    assert (refused.status_code, refused.json["error"]) == (400, expected)
    assert_nothing_left(store, broker, "13922221111")


def test_outside_testing_each_captcha_has_its_own_random_answer(settings, store, broker):
    client = create_app({**settings, "SMS_CAPTCHA": "always"}).test_client()
    images = {client.get("/captcha").json["image"] for _ in range(3)}

    guess = send(client, "13922224444", captcha_id=captcha(client), captcha=ANSWER)

    assert len(images) == 3
    assert guess.json["error"] == "captcha_wrong"
    assert_nothing_left(store, broker, "13922224444")


def test_a_wrong_answer_uses_the_captcha_up(settings, store, broker):
    client = make_client(settings, SMS_CAPTCHA="always")
    captcha_id = captcha(client)

    assert send(client, "13922223333", captcha_id=captcha_id, captcha="NOPE").status_code == 400
    again = send(client, "13922223333", captcha_id=captcha_id, captcha=ANSWER)

    assert again.json["error"] == "captcha_wrong"
    assert_nothing_left(store, broker, "13922223333")


def test_always_asks_every_send_and_takes_the_answer_from_a_form_or_the_query(settings):
    client = make_client(settings, SMS_CAPTCHA="always")

    first = client.post("/users/sms/13933330000")
    assert first.json["error"] == "captcha_required"

    by_form = client.post(
        "/users/sms/13933330000", data={"captcha_id": captcha(client), "captcha": ANSWER}
    )
    assert by_form.status_code == 200
    by_query = client.get(f"/users/sms/13933330001?captcha_id={captcha(client)}&captcha={ANSWER}")
    assert by_query.status_code == 200


def test_off_never_asks(settings):
    client = make_client(settings, SMS_CAPTCHA="off")

    answers = [send(client, f"1394444000{n}").status_code for n in range(8)]

    assert answers == [200] * 8


def test_ipv6_clients_are_counted_per_64(auto):
    for host in range(3):
        assert (
            send(auto, f"1395555000{host}", address=f"2001:db8:1:2::{host + 1}").status_code == 200
        )

    same_64 = send(auto, "13955550009", address="2001:db8:1:2:ffff::9")
    other_64 = send(auto, "13955550008", address="2001:db8:1:3::1")

    assert same_64.json["error"] == "captcha_required"
    assert other_64.status_code == 200


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("not-an-address", "not-an-address"),
        (None, None),
    ],
)
def test_client_key(address, key):
    assert client_key(address) == key


def test_a_busy_number_range_needs_a_captcha_from_every_address(settings, store):
    client = make_client(settings, SMS_CAPTCHA="auto", SMS_RISK_RANGE_PER_HOUR="5")
    for n in range(5):
        assert send(client, f"1386666000{n}", address=f"198.51.100.{n}").status_code == 200

    same_range = send(client, "13866669999", address="198.51.100.99")
    other_range = send(client, "13866679999", address="198.51.100.98")

    assert same_range.json["error"] == "captcha_required"
    assert other_range.status_code == 200


def test_a_refused_send_does_not_count_towards_the_address(auto):
    assert send(auto, "13977770000").status_code == 200
    for _ in range(5):
        assert send(auto, "13977770000").json["error"] == "cooldown"

    assert send(auto, "13977770001").status_code == 200
    assert send(auto, "13977770002").status_code == 200
    assert send(auto, "13977770003").json["error"] == "captcha_required"
    metrics = auto.get("/metrics").get_data(as_text=True)
    assert "sms_cooldown_refusals_total 5.0" in metrics
    assert "sms_codes_issued_last_hour 3.0" in metrics


@examples(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    captcha_id=st.none() | st.text(max_size=80),
    answer=st.none() | st.text(max_size=20) | st.integers() | st.lists(st.integers(), max_size=2),
)
def test_any_captcha_fields_get_a_json_400_never_a_5xx(settings, captcha_id, answer):
    client = make_client(settings, SMS_CAPTCHA="always")
    body = {k: v for k, v in (("captcha_id", captcha_id), ("captcha", answer)) if v is not None}

    refused = client.post("/users/sms/13988880000", json=body)

    assert refused.status_code == 400
    assert refused.json["error"] in {"captcha_required", "captcha_wrong"}


def test_the_hourly_budget_stops_the_next_code_service_wide_but_not_a_test_number(
    settings, store, caplog, broker, monkeypatch
):
    from project.abuse import budgets

    monkeypatch.setattr(budgets, "_logged", {})  # this process logged no window yet
    client = make_client(
        settings, SMS_HOURLY_BUDGET="3", SMS_TEST_NUMBERS=f"{TEST_NUMBER}:{TEST_CODE}"
    )
    for n in range(3):
        assert send(client, f"1351234000{n}", address=f"192.0.2.{n}").status_code == 200

    refused = [send(client, f"1351234100{n}", address=f"192.0.2.{50 + n}") for n in range(3)]

    for answer in refused:
        assert (answer.status_code, answer.json["error"]) == (429, "rate_limited")
        assert 1 <= int(answer.headers["Retry-After"]) <= 3600
        assert answer.json["interval"] == int(answer.headers["Retry-After"])
    assert store_keys(store, "sms:*135123410*") == []
    assert broker.llen("celery") == 3
    errors = [r for r in caplog.records if "SMS_HOURLY_BUDGET=3" in r.getMessage()]
    assert [r.levelno for r in errors] == [logging.ERROR]  # once per window

    assert send(client, TEST_NUMBER).status_code == 200
    verified = client.post(f"/users/sms/{TEST_NUMBER}/verify", json={"code": TEST_CODE})
    assert verified.status_code == 200
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'sms_budget_exhausted{window="hour"} 1.0' in metrics
    assert 'sms_budget_used{window="hour"} 3.0' in metrics
    assert 'sms_budget_limit{window="hour"} 3.0' in metrics
    assert 'sms_budget_limit{window="day"} 0.0' in metrics  # no cap
    assert "sms_budget_refusals_total 3.0" in metrics
    assert "sms_test_codes_issued_total 1.0" in metrics


def test_the_budget_is_exact_under_concurrency(settings, store, broker):
    app = create_app({**settings, "SMS_HOURLY_BUDGET": "5", "SMS_DAILY_BUDGET": "1000"})

    def one(n):
        return app.test_client().post(f"/users/sms/1361234{n:04d}").status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = sorted(pool.map(one, range(40)))

    assert statuses == [200] * 5 + [429] * 35
    assert broker.llen("celery") == 5
    assert len(store_keys(store, "sms:{*}:code:*")) == 5


def test_the_daily_budget_counts_the_beijing_day(settings):
    client = make_client(settings, SMS_DAILY_BUDGET="2")
    assert send(client, "13712340000").status_code == 200
    assert send(client, "13712340001").status_code == 200

    refused = send(client, "13712340002")

    assert refused.json["error"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) <= 86400
    assert 'sms_budget_used{window="day"} 2.0' in client.get("/metrics").get_data(as_text=True)


def test_a_test_number_skips_every_limit_and_the_captcha_and_queues_no_sms(settings, store, broker):
    client = make_client(
        settings,
        SMS_CAPTCHA="always",
        SMS_DAILY_LIMIT="1",
        RATELIMIT_SMS_PER_IP="1 per minute",
        SMS_TEST_NUMBERS=f"{TEST_NUMBER}:{TEST_CODE}",
    )

    answers = [send(client, TEST_NUMBER).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert send(client, "13812345678").json["error"] == "captcha_required"
    assert send(client, "13812345679").json["error"] == "rate_limited"  # the address's limit
    assert broker.llen("celery") == 0
    assert store_keys(store, "sms:{*}:cooldown") == []
    assert (
        client.post(f"/users/sms/{TEST_NUMBER}/verify", data={"code": TEST_CODE}).status_code == 200
    )


def test_the_cli_is_a_trusted_caller_held_to_the_budgets(settings):
    app = create_app({**settings, "SMS_CAPTCHA": "always", "SMS_HOURLY_BUDGET": "1"})
    runner = app.test_cli_runner()

    first = runner.invoke(args=["sms", "send", "13812340000"])
    second = runner.invoke(args=["sms", "send", "13812340001"])

    assert first.exit_code == 0, first.output  # no captcha asked of the operator
    assert second.exit_code == 1
    assert "SMS_HOURLY_BUDGET=1 spent" in second.output


def test_a_captcha_drawn_under_the_old_key_passes_during_a_rotation(settings):
    old, new = "old-secret-of-at-least-32-characters!", "new-secret-of-at-least-32-characters!"
    before = make_client(settings, SMS_CAPTCHA="always", SECRET_KEY=old)
    after = make_client(settings, SMS_CAPTCHA="always", SECRET_KEY=new, SECRET_KEY_FALLBACKS=old)
    stranger = make_client(settings, SMS_CAPTCHA="always", SECRET_KEY=new)

    passed = send(after, "13822220000", captcha_id=captcha(before), captcha=ANSWER)
    refused = send(stranger, "13822220001", captcha_id=captcha(before), captcha=ANSWER)

    assert passed.status_code == 200
    assert refused.json["error"] == "captcha_wrong"
