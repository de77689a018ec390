"""Hostile requests get clear JSON answers and leave no trace: HEAD, huge bodies, encodings."""

from __future__ import annotations

import time

import redis
import requests

MOBILE = "13812345678"


def test_head_never_issues_a_code(client, redis_url):
    answer = client.head(f"/users/sms/{MOBILE}")

    assert answer.status_code == 405
    assert set(answer.headers["Allow"].split(", ")) == {"GET", "POST"}
    assert redis.Redis.from_url(redis_url).keys("sms:*code*") == []
    assert client.post(f"/users/sms/{MOBILE}").status_code == 200  # no cooldown either


def test_a_deeply_nested_body_is_a_json_4xx(client):
    client.post(f"/users/sms/{MOBILE}")
    verify = f"/users/sms/{MOBILE}/verify"

    deep = client.post(verify, data="[" * 10_000, content_type="application/json")
    deeper = client.post(verify, data="[" * 100_000, content_type="application/json")

    assert (deep.status_code, deep.json["error"]) == (400, "invalid_request")
    assert (deeper.status_code, deeper.json["error"]) == (413, "request_entity_too_large")


def test_an_oversized_body_is_a_json_413_on_both_routes(client):
    big = b"x" * (10 * 1024 * 1024)

    for path in (f"/users/sms/{MOBILE}/verify", f"/users/sms/{MOBILE}"):
        answer = client.post(path, data=big, content_type="application/json")
        assert answer.status_code == 413, path
        assert answer.json["error"] == "request_entity_too_large"
    assert client.post(f"/users/sms/{MOBILE}").status_code == 200  # nothing was issued


def test_api_answers_are_never_cached(client):
    for answer in (client.post(f"/users/sms/{MOBILE}"), client.post(f"/users/sms/{MOBILE}")):
        assert answer.headers["Cache-Control"] == "no-store"


def test_through_gunicorn_an_oversized_body_gets_json_not_a_reset(start_web):
    web = start_web()

    big = requests.post(
        f"{web}/users/sms/{MOBILE}/verify",
        data=b"{" * (10 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )

    assert big.status_code == 413
    assert big.json()["error"] == "request_entity_too_large"


def test_the_access_log_masks_percent_encoded_mobiles(start_web, services):
    web = start_web(extra=["--access-logfile", "-"])

    assert requests.post(f"{web}/users/sms/%31{MOBILE[1:]}", timeout=10).status_code == 200
    again = requests.get(f"{web}/users/sms/%31%33{MOBILE[2:]}?to=%31{MOBILE[1:]}", timeout=10)
    assert again.status_code == 429  # the same mobile: its cooldown runs
    time.sleep(0.5)

    [gunicorn] = services
    text = gunicorn.output()
    assert "/users/sms/138****5678" in text
    assert MOBILE not in text and f"%31{MOBILE[1:]}" not in text and MOBILE[1:] not in text
