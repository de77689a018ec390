"""Verification: single use, counted wrong guesses, hashed storage."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from project.codes import issue_code
from project.sealing import unseal
from tests.conftest import store_keys
from tests.test_codes import queued_sends

pytestmark = pytest.mark.code_store

MOBILE = "13812345678"


def issue(app, redis_url: str) -> str:
    """Issue a code the way the endpoint does and read it back off the queued send."""
    with app.app_context():
        issue_code(MOBILE)
        return unseal(queued_sends(redis_url)[-1]["args"][2][0], MOBILE)


def verify(client, code, mobile: str = MOBILE):
    return client.post(f"/users/sms/{mobile}/verify", json={"code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_the_right_code_verifies_once(app, client, redis_url):
    code = issue(app, redis_url)

    first = verify(client, code)
    assert (first.status_code, first.json["errmsg"]) == (200, "OK")
    assert first.json["expires_in"] == 600 and first.json["verification_token"]

    again = verify(client, code)
    assert (again.status_code, again.json["error"]) == (400, "no_code")


def test_form_data_works_as_well_as_json(app, client, redis_url):
    code = issue(app, redis_url)

    answer = client.post(f"/users/sms/{MOBILE}/verify", data={"code": code})

    assert answer.status_code == 200


def test_wrong_guesses_count_down_then_burn_the_code(app, client, redis_url):
    code = issue(app, redis_url)

    left = [verify(client, wrong(code)).json.get("attempts_left") for _ in range(5)]
    last = verify(client, code)

    assert left == [4, 3, 2, 1, 0]
    assert (last.status_code, last.json["error"]) == (400, "no_code")


def test_the_attempt_counter_lives_exactly_as_long_as_the_code(app, client, redis_url, store):
    code = issue(app, redis_url)
    verify(client, wrong(code))
    code_ttl = store.pttl(f"sms:{{{MOBILE}}}:code:register")
    attempts_ttl = store.pttl(f"sms:{{{MOBILE}}}:attempts:register")
    assert 0 < attempts_ttl <= code_ttl
    assert code_ttl - attempts_ttl < 1000


def test_a_new_code_resets_the_wrong_guesses(app, client, redis_url, store):
    first = issue(app, redis_url)
    for _ in range(4):
        verify(client, wrong(first))
    store.delete(f"sms:{{{MOBILE}}}:cooldown")  # the cooldown is over

    second = issue(app, redis_url)

    assert verify(client, wrong(second)).json["attempts_left"] == 4


def test_of_concurrent_correct_verifies_exactly_one_succeeds(app, redis_url):
    code = issue(app, redis_url)

    def attempt(_: int) -> int:
        return (
            app.test_client().post(f"/users/sms/{MOBILE}/verify", json={"code": code}).status_code
        )

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(attempt, range(8)))

    assert statuses == [200] + [400] * 7


def test_no_code_when_none_was_sent(client, redis_url):
    answer = verify(client, "123456")

    assert (answer.status_code, answer.json["error"]) == (400, "no_code")


def test_malformed_requests_are_invalid_and_cost_no_attempt(app, client, redis_url):
    code = issue(app, redis_url)
    url = f"/users/sms/{MOBILE}/verify"

    for answer in (
        client.post(url),
        client.post(url, data="not json", content_type="application/json"),
        client.post(url, json=["123456"]),
        client.post(url, json={"code": 123456}),
        client.post(url, json={"code": "12345"}),
        client.post(url, json={"code": "１２３４５６"}),
        client.post(url, json={"kode": code}),
    ):
        assert (answer.status_code, answer.json["error"]) == (400, "invalid_request"), answer.json

    assert verify(client, code).status_code == 200


def test_a_bad_mobile_on_verify_is_invalid_mobile(client, redis_url):
    answer = verify(client, "123456", mobile="+8613812345678")

    assert (answer.status_code, answer.json["error"]) == (400, "invalid_mobile")


@pytest.mark.parametrize("where", ["code store", "broker"])
def test_nothing_in_redis_holds_the_code_in_clear(app, redis_url, store, where):
    code = issue(app, redis_url)
    if where == "broker":
        store = redis.Redis.from_url(redis_url)

    keys = store_keys(store)
    assert keys
    for key in keys:
        assert code.encode() not in key
        kind = store.type(key)
        if kind == b"string":
            values = [store.get(key)]
        elif kind == b"list":
            values = store.lrange(key, 0, -1)
        elif kind == b"hash":
            values = [*store.hkeys(key), *store.hvals(key)]
        elif kind in (b"set", b"zset"):
            values = (
                [m for m, _ in store.zscan_iter(key)] if kind == b"zset" else store.smembers(key)
            )
        else:
            values = []
        for value in values:
            assert code.encode() not in value, key
            assert code.encode() not in _base64_decoded(value), key


def _base64_decoded(value: bytes) -> bytes:
    """Celery message bodies are base64: look inside them too."""
    try:
        body = json.loads(value)["body"]
        return base64.b64decode(body)
    except (ValueError, KeyError, TypeError):
        return b""
