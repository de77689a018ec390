"""Flask-Limiter: per-IP limits, the per-mobile daily cap, proxies, failing closed."""

from __future__ import annotations

import random
import time
from datetime import UTC

import pytest
import redis

from project import create_app
from project.ratelimit import limiter
from project.redis_store import TIMEZONE, seconds_until_tomorrow, today

pytestmark = pytest.mark.code_store


def mobiles(count: int) -> list[str]:
    return [f"1380000{n:04d}" for n in range(count)]


@pytest.fixture
def limited(settings):
    """An app with the contract's default limits."""

    def build(**overrides: str):
        base = {
            **settings,
            "RATELIMIT_SMS_PER_IP": "5 per minute;30 per hour",
            "SMS_DAILY_LIMIT": "5",
        }
        return create_app({**base, **overrides}).test_client()

    return build


def test_the_sixth_send_in_a_minute_from_one_address_is_rate_limited(limited):
    client = limited()

    statuses = [client.post(f"/users/sms/{m}").status_code for m in mobiles(5)]
    sixth = client.post("/users/sms/13900000000")

    assert statuses == [200] * 5
    assert sixth.status_code == 429
    assert sixth.json["error"] == "rate_limited"
    assert 1 <= sixth.json["interval"] <= 60
    assert sixth.headers["Retry-After"] == str(sixth.json["interval"])
    assert sixth.headers["X-RateLimit-Limit"] == "5"
    assert sixth.headers["X-RateLimit-Remaining"] == "0"
    assert int(sixth.headers["X-RateLimit-Reset"]) > time.time()


def random_ip() -> str:
    return ".".join(str(random.randint(1, 254)) for _ in range(4))


def test_forged_forwarded_for_headers_do_not_escape_the_limit(limited):
    client = limited(TRUSTED_PROXY_COUNT="0")

    answers = [
        client.post(f"/users/sms/{m}", headers={"X-Forwarded-For": random_ip()}) for m in mobiles(6)
    ]

    assert [a.status_code for a in answers] == [200] * 5 + [429]


def test_behind_one_trusted_proxy_the_forwarded_address_is_counted(limited):
    client = limited(TRUSTED_PROXY_COUNT="1")

    spread = [
        client.post(f"/users/sms/{m}", headers={"X-Forwarded-For": random_ip()}) for m in mobiles(6)
    ]
    one = [
        client.post(f"/users/sms/{m}", headers={"X-Forwarded-For": "203.0.113.9"})
        for m in mobiles(12)[6:]
    ]

    assert [a.status_code for a in spread] == [200] * 6
    assert [a.status_code for a in one] == [200] * 5 + [429]


def test_the_sixth_code_for_one_mobile_in_a_day_is_refused(limited):
    client = limited(SMS_SEND_INTERVAL="1", RATELIMIT_SMS_PER_IP="100 per minute")
    statuses = []
    for _ in range(6):
        answer = client.post("/users/sms/13812345678")
        while answer.status_code == 429 and answer.json["error"] == "cooldown":
            time.sleep(0.2)
            answer = client.post("/users/sms/13812345678")
        statuses.append((answer.status_code, answer.json.get("error")))

    assert statuses == [(200, None)] * 5 + [(429, "rate_limited")]
    assert answer.json["errmsg"] == f"请求过于频繁，请{answer.json['interval']}秒后再试"
    # The cap is RongLian's: per calendar day in Beijing, so it lifts at midnight there.
    # The count outlives midnight by under a second and Redis rounds its TTL: a retry
    # after ``interval`` is never early, and never more than two seconds late.
    assert 1 <= answer.json["interval"] <= seconds_until_tomorrow() + 1
    assert answer.headers["Retry-After"] == str(answer.json["interval"])
    assert answer.headers["X-RateLimit-Limit"] == "5"


def test_the_daily_window_ends_at_beijing_midnight():
    from datetime import datetime

    late = datetime(2026, 11, 23, 23, 59, 30, tzinfo=TIMEZONE)
    utc_evening = datetime(2026, 11, 23, 15, 59, 30, tzinfo=UTC)  # the same instant

    assert seconds_until_tomorrow(late) == 31
    assert seconds_until_tomorrow(utc_evening) == 31
    assert today(utc_evening) == "2026-11-23"


def test_cooldown_refusals_do_not_use_up_the_daily_cap(limited, store):
    client = limited(RATELIMIT_SMS_PER_IP="100 per minute")
    client.post("/users/sms/13812345678")
    for _ in range(10):
        assert client.post("/users/sms/13812345678").json["error"] == "cooldown"

    store.delete("sms:{13812345678}:cooldown")

    assert client.post("/users/sms/13812345678").status_code == 200


def test_verify_is_limited_per_address(limited):
    client = limited(RATELIMIT_VERIFY_PER_IP="3 per minute")

    statuses = [
        client.post("/users/sms/13812345678/verify", json={"code": "123456"}).status_code
        for _ in range(4)
    ]

    assert statuses == [400, 400, 400, 429]


def test_when_the_limit_store_fails_the_send_endpoint_fails_closed(limited, monkeypatch):
    client = limited()

    def down(*args, **kwargs):
        raise redis.exceptions.ConnectionError("limit store down")

    monkeypatch.setattr(limiter.limiter, "hit", down)
    monkeypatch.setattr(limiter.limiter, "test", down)

    answer = client.post("/users/sms/13812345678")

    assert (answer.status_code, answer.json["error"]) == (503, "unavailable")


INVALID_MOBILES = ["12345", "+8613812345678", "1381234567８", "1381234567", "23812345678"]


@pytest.mark.parametrize("typo", INVALID_MOBILES)
def test_mistyped_numbers_do_not_spend_the_per_ip_limit(limited, typo):
    client = limited(RATELIMIT_SMS_PER_IP="5 per minute")

    typos = [client.post(f"/users/sms/{typo}") for _ in range(5)]
    sends = [client.post(f"/users/sms/{m}").status_code for m in mobiles(6)]

    assert [(a.status_code, a.json["error"]) for a in typos] == [(400, "invalid_mobile")] * 5
    assert sends == [200] * 5 + [429]


def test_a_mistyped_number_is_refused_without_a_redis_command(limited, redis_url):
    client = limited(RATELIMIT_SMS_PER_IP="5 per minute")
    store = redis.Redis.from_url(redis_url)

    def commands() -> int:
        return store.info("stats")["total_commands_processed"]

    baseline = -commands() + commands()  # what reading the figure itself costs
    before = commands()
    answers = [client.post("/users/sms/1381234567").status_code for _ in range(5)]
    after = commands()

    assert answers == [400] * 5
    assert after - before == baseline
    assert store.dbsize() == 0


def test_a_mistyped_number_is_answered_400_even_when_the_address_is_limited(limited):
    client = limited(RATELIMIT_SMS_PER_IP="5 per minute")
    for m in mobiles(5):
        client.post(f"/users/sms/{m}")

    assert client.post("/users/sms/13900000000").status_code == 429
    typo = client.post("/users/sms/1390000000")

    assert (typo.status_code, typo.json["error"]) == (400, "invalid_mobile")


def test_two_ipv6_addresses_in_one_64_share_a_bucket_and_another_64_does_not(limited):
    client = limited()
    one_64 = [f"2001:db8:1:2::{n:x}" for n in range(1, 7)]

    same = [
        client.post(f"/users/sms/{m}", environ_base={"REMOTE_ADDR": address})
        for m, address in zip(mobiles(6), one_64, strict=True)
    ]
    other = client.post("/users/sms/13900000001", environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"})

    assert [a.status_code for a in same] == [200] * 5 + [429]
    assert other.status_code == 200


def test_an_ipv4_mapped_address_counts_as_its_ipv4_address(limited):
    client = limited()
    addresses = ["198.51.100.7", "::ffff:198.51.100.7"] * 3

    answers = [
        client.post(f"/users/sms/{m}", environ_base={"REMOTE_ADDR": address})
        for m, address in zip(mobiles(6), addresses, strict=True)
    ]

    assert [a.status_code for a in answers] == [200] * 5 + [429]
