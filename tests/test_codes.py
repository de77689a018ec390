"""The code rules (issue, cooldown, verify), called as the Python API host apps use."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from redis.crc import key_slot

from project.codes import Cooldown, code_digest, issue_code
from project.metrics import totals
from project.mobile import InvalidMobile
from project.redis_store import get_redis
from project.sealing import unseal
from tests.conftest import store_keys

pytestmark = pytest.mark.code_store

MOBILE = "13812345678"


def queued_sends(redis_url: str) -> list[dict]:
    """The send messages waiting in the broker's default queue, decoded (still sealed)."""
    client = redis.Redis.from_url(redis_url)
    messages = [json.loads(raw) for raw in client.lrange("celery", 0, -1)]
    for message in messages:
        message["args"] = json.loads(base64.b64decode(message["body"]))[0]
    return messages


def test_issue_enqueues_the_send_with_the_code_and_its_expiry(app, redis_url, store):
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
        stored = store.get(f"sms:{{{MOBILE}}}:code:register").decode()
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


def test_the_code_and_cooldown_live_as_long_as_configured(settings, redis_url, store):
    from project import create_app

    app = create_app({**settings, "SMS_CODE_TTL": "120", "SMS_SEND_INTERVAL": "30"})
    with app.app_context():
        issue_code(MOBILE)
    assert 119 <= store.ttl(f"sms:{{{MOBILE}}}:code:register") <= 120
    assert 29 <= store.ttl(f"sms:{{{MOBILE}}}:cooldown") <= 30
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


def test_an_invalid_mobile_stores_nothing(app, redis_url, store):
    with app.app_context(), pytest.raises(InvalidMobile):
        issue_code("+8613812345678")
    assert store_keys(store) == []
    assert redis.Redis.from_url(redis_url).keys("*") == []


def test_every_key_of_a_mobile_lives_in_one_cluster_slot(app, store):
    with app.app_context():
        issue_code(MOBILE)
    mine = [k for k in store_keys(store) if MOBILE.encode() in k]

    assert len(mine) == 3  # cooldown, code, today's count
    assert {key_slot(k) for k in mine} == {key_slot(MOBILE.encode())}


def test_the_service_counters_count_each_outcome_outside_the_mobiles_slot(app):
    with app.app_context():
        issue_code(MOBILE)
        with pytest.raises(Cooldown):
            issue_code(MOBILE)
        counted = totals(get_redis())

    assert counted["codes_requested"] == 2
    assert (counted["codes_issued"], counted["cooldown_refusals"]) == (1, 1)
