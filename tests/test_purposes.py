"""Purposes: a code is issued for one purpose and verifies for that purpose only."""

from __future__ import annotations

import base64
import json

import pytest
import redis
from flask import Flask

from config import ConfigError, load_config
from project import create_app
from project.codes import InvalidPurpose, NoCode, issue_code, verify_code
from project.sealing import unseal
from tests.conftest import store_keys

pytestmark = pytest.mark.code_store  # on a single Redis and on a Redis Cluster

MOBILE = "13812345678"
TESTING_KEYS = {"APP_CONFIG": "testing"}  # the testing config's SECRET_KEY opens the seal


def queued(redis_url: str, mobile: str = MOBILE) -> list[tuple[list, dict]]:
    """``(args, kwargs)`` of the sends queued for ``mobile``, oldest first."""
    raw = redis.Redis.from_url(redis_url).lrange("celery", 0, -1)
    bodies = [json.loads(base64.b64decode(json.loads(m)["body"])) for m in reversed(raw)]
    return [(body[0], body[1]) for body in bodies if body[0][1] == mobile]


def last_code(redis_url: str, mobile: str = MOBILE, app: Flask | None = None) -> str:
    """The code of the latest send to ``mobile``, unsealed with ``app``'s keys."""
    args, _ = queued(redis_url, mobile)[-1]
    with (app or create_app(TESTING_KEYS)).app_context():
        return unseal(args[2][0], mobile)


def send(client, mobile: str = MOBILE, **fields):
    return client.post(f"/users/sms/{mobile}", json=fields)


def verify(client, code: str, mobile: str = MOBILE, **fields):
    return client.post(f"/users/sms/{mobile}/verify", json={"code": code, **fields})


def end_cooldown(store: redis.Redis, mobile: str = MOBILE) -> None:
    store.delete(f"sms:{{{mobile}}}:cooldown")


def test_a_login_code_is_no_code_for_reset_password_and_verifies_for_login(client, redis_url):
    assert send(client, purpose="login").status_code == 200
    code = last_code(redis_url)

    wrong_purpose = verify(client, code, purpose="reset_password")
    assert (wrong_purpose.status_code, wrong_purpose.json["error"]) == (400, "no_code")
    right = verify(client, code, purpose="login")
    assert right.status_code == 200 and right.json["verification_token"]


def test_codes_of_two_purposes_coexist_and_a_new_one_replaces_only_its_own(
    client, redis_url, store
):
    assert send(client, purpose="login").status_code == 200
    login_code = last_code(redis_url)
    end_cooldown(store)
    assert send(client, purpose="register").status_code == 200
    first_register = last_code(redis_url)
    end_cooldown(store)
    assert send(client, purpose="register").status_code == 200
    register_code = last_code(redis_url)

    assert verify(client, first_register, purpose="register").status_code == 400  # replaced
    assert verify(client, register_code, purpose="register").status_code == 200
    assert verify(client, login_code, purpose="login").status_code == 200


def test_the_cooldown_is_shared_across_purposes(client):
    assert send(client, purpose="login").status_code == 200

    for purpose in ("register", "reset_password", "login"):
        again = send(client, purpose=purpose)
        assert (again.status_code, again.json["error"]) == (429, "cooldown")
        assert int(again.headers["Retry-After"]) > 0


@pytest.mark.parametrize("where", ["json", "form", "query"])
def test_an_unknown_purpose_is_invalid_purpose_and_writes_nothing(client, store, where):
    url = f"/users/sms/{MOBILE}"
    if where == "json":
        answer = client.post(url, json={"purpose": "transfer_money"})
    elif where == "form":
        answer = client.post(url, data={"purpose": "transfer_money"})
    else:
        answer = client.get(f"{url}?purpose=transfer_money")

    assert (answer.status_code, answer.json["error"]) == (400, "invalid_purpose")
    assert answer.json["errmsg"]
    assert store_keys(store, "sms:*") == []
    bad_verify = verify(client, "123456", purpose="Login")
    assert (bad_verify.status_code, bad_verify.json["error"]) == (400, "invalid_purpose")


def test_an_unknown_purpose_spends_none_of_the_per_ip_limit(settings):
    client = create_app({**settings, "RATELIMIT_SMS_PER_IP": "1 per minute"}).test_client()
    for _ in range(3):
        assert send(client, purpose="nope").json["error"] == "invalid_purpose"

    assert send(client, purpose="login").status_code == 200
    assert send(client, "13987654321").status_code == 429  # the one allowed send was that one


def test_the_seed_url_without_a_purpose_works_as_before(client, redis_url):
    assert client.post(f"/users/sms/{MOBILE}").status_code == 200
    code = last_code(redis_url)
    _, kwargs = queued(redis_url)[-1]
    assert kwargs["purpose"] == "register"  # the first of SMS_PURPOSES

    answer = client.post(f"/users/sms/{MOBILE}/verify", data={"code": code, "purpose": ""})
    assert (answer.status_code, answer.json["errmsg"]) == (200, "OK")  # an empty field: absent


def test_the_digest_binds_the_purpose(client, redis_url, store):
    """A login code's record copied under reset_password still does not verify there."""
    assert send(client, purpose="login").status_code == 200
    code = last_code(redis_url)
    store.set(
        f"sms:{{{MOBILE}}}:code:reset_password", store.get(f"sms:{{{MOBILE}}}:code:login"), ex=60
    )

    answer = verify(client, code, purpose="reset_password")
    assert (answer.status_code, answer.json["error"]) == (400, "wrong_code")


def test_the_python_api_takes_the_purpose(app, redis_url):
    with app.app_context():
        issue_code(MOBILE, purpose="reset_password")
        code = last_code(redis_url)
        with pytest.raises(NoCode):
            verify_code(MOBILE, code, purpose="login")
        verified = verify_code(MOBILE, code, purpose="reset_password")
        assert verified.expires_in == 600 and verified.verification_token
        with pytest.raises(InvalidPurpose):
            issue_code("13987654321", purpose="transfer")


def test_the_template_of_each_purpose_is_sent(app, redis_url, settings):
    templated = create_app({**settings, "RONGLIAN_TEMPLATES": "login:22,reset_password:33"})
    with templated.app_context():
        for mobile, purpose in (
            ("13800000001", "register"),
            ("13800000002", "login"),
            ("13800000003", "reset_password"),
        ):
            issue_code(mobile, purpose=purpose)
    tids = {
        purpose: queued(redis_url, m)[-1][0][0]
        for m, purpose in [
            ("13800000001", "register"),
            ("13800000002", "login"),
            ("13800000003", "reset_password"),
        ]
    }
    assert tids == {"register": "1", "login": "22", "reset_password": "33"}


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SMS_PURPOSES": "login,Login"}, "SMS_PURPOSES"),
        ({"SMS_PURPOSES": "login,login"}, "SMS_PURPOSES"),
        ({"SMS_PURPOSES": "log in"}, "SMS_PURPOSES"),
        ({"RONGLIAN_TEMPLATES": "payment:5"}, "RONGLIAN_TEMPLATES"),
        ({"RONGLIAN_TEMPLATES": "login"}, "RONGLIAN_TEMPLATES"),
        ({"RONGLIAN_VOICE_PLAY_TIMES": "4"}, "RONGLIAN_VOICE_PLAY_TIMES"),
        ({"RONGLIAN_VOICE_LANG": "fr"}, "RONGLIAN_VOICE_LANG"),
        ({"SMS_PUBLIC_URL": "sms.example.com"}, "SMS_PUBLIC_URL"),
        ({"SMS_VERIFICATION_TOKEN_TTL": "0"}, "SMS_VERIFICATION_TOKEN_TTL"),
    ],
)
def test_bad_purpose_and_voice_settings_refuse_to_start(env, named):
    with pytest.raises(ConfigError, match=named):
        load_config({"APP_CONFIG": "testing", **env})
