"""The code rules (issue, cooldown, verify), called as the Python API host apps use."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from project.codes import Cooldown, code_digest, issue_code
from project.mobile import InvalidMobile
from project.sealing import unseal

MOBILE = "13812345678"


def queued_sends(redis_url: str) -> list[dict]:
    """The send messages waiting in the broker's default queue, decoded (still sealed)."""
    client = redis.Redis.from_url(redis_url)
    messages = [json.loads(raw) for raw in client.lrange("celery", 0, -1)]
    for message in messages:
        message["args"] = json.loads(base64.b64decode(message["body"]))[0]
    return messages


def test_issue_enqueues_the_send_with_the_code_and_its_expiry(app, redis_url):
    with app.app_context():
        issued = issue_code(MOBILE)

    assert (issued.interval, issued.expires_in) == (60, 300)
    [message] = queued_sends(redis_url)
    assert message["headers"]["task"] == "send_sms"
    tid, mobile, (sealed, minutes) = message["args"]
    assert (tid, mobile, minutes) == ("1", MOBILE, "5")
    assert message["headers"]["expires"] is not None
    with app.app_context():
        code = unseal(sealed, MOBILE)
        assert len(code) == 6 and code.isdigit() and code not in sealed
        stored = redis.Redis.from_url(redis_url).get(f"sms:code:{MOBILE}:register").decode()
        assert stored == code_digest(MOBILE, "register", code)


def test_the_published_message_shows_monitors_no_code_and_no_mobile(app, redis_url):
    with app.app_context():
        issue_code(MOBILE)

    [message] = queued_sends(redis_url)
    with app.app_context():
        code = unseal(message["args"][2][0], MOBILE)
    assert MOBILE not in message["headers"]["argsrepr"]
    assert code not in message["headers"]["argsrepr"]
    assert "138****5678" in message["headers"]["argsrepr"]


def test_the_code_and_cooldown_live_as_long_as_configured(settings, redis_url):
    from project import create_app

    app = create_app({**settings, "SMS_CODE_TTL": "120", "SMS_SEND_INTERVAL": "30"})
    with app.app_context():
        issue_code(MOBILE)
    client = redis.Redis.from_url(redis_url)

    assert 119 <= client.ttl(f"sms:code:{MOBILE}:register") <= 120
    assert 29 <= client.ttl(f"sms:cooldown:{MOBILE}") <= 30
    assert queued_sends(redis_url)[0]["args"][2][1] == "2"  # minutes, rounded up


def test_of_many_concurrent_issues_exactly_one_wins(app, redis_url):
    def attempt(_: int) -> str:
        with app.app_context():
            try:
                issue_code(MOBILE)
                return "issued"
            except Cooldown:
                return "cooldown"

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(attempt, range(64)))

    assert outcomes.count("issued") == 1
    assert len(queued_sends(redis_url)) == 1


def test_an_invalid_mobile_stores_nothing(app, redis_url):
    with app.app_context(), pytest.raises(InvalidMobile):
        issue_code("+8613812345678")
    assert redis.Redis.from_url(redis_url).keys("*") == []
