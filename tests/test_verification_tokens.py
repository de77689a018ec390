"""Verification tokens: a verify's proof, redeemed once by the app's backend."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from project import create_app
from project.verification_tokens import InvalidToken, TokenUsed, redeem_verification
from tests.test_purposes import last_code

pytestmark = pytest.mark.code_store  # on a single Redis and on a Redis Cluster

MOBILE = "13812345678"
API_KEY = "backend0key0never0in0any0log000001"
KEYS = {"SMS_API_KEYS": f"old0key,{API_KEY}"}
REDEEM = "/users/sms/verifications/redeem"


@pytest.fixture
def keyed(settings):
    return create_app({**settings, **KEYS})


def token_for(client, redis_url: str, purpose: str = "login", mobile: str = MOBILE) -> str:
    assert client.post(f"/users/sms/{mobile}", json={"purpose": purpose}).status_code == 200
    code = last_code(redis_url, mobile, client.application)
    answer = client.post(f"/users/sms/{mobile}/verify", json={"code": code, "purpose": purpose})
    assert answer.status_code == 200
    assert answer.json["expires_in"] == client.application.config["SMS_VERIFICATION_TOKEN_TTL"]
    return answer.json["verification_token"]


def redeem(client, token: object, key: str | None = API_KEY):
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return client.post(REDEEM, json={"verification_token": token}, headers=headers)


def flip(token: str, index: int) -> str:
    char = "A" if token[index] != "A" else "B"
    return token[:index] + char + token[index + 1 :]


def test_a_token_redeems_once_then_token_used(keyed, redis_url):
    client = keyed.test_client()
    token = token_for(client, redis_url)
    before = int(time.time())

    first = redeem(client, token)
    assert first.status_code == 200
    assert first.json["mobile"] == MOBILE and first.json["purpose"] == "login"
    assert before - 5 <= first.json["verified_at"] <= int(time.time())
    again = redeem(client, token)
    assert (again.status_code, again.json["error"]) == (400, "token_used")
    assert again.json["errmsg"]


@pytest.mark.parametrize("where", [0, 10, -3, -20])
def test_a_token_with_a_changed_byte_is_invalid(keyed, redis_url, where):
    client = keyed.test_client()
    token = token_for(client, redis_url)

    answer = redeem(client, flip(token, where))
    assert (answer.status_code, answer.json["error"]) == (400, "invalid_token")
    assert redeem(client, token).status_code == 200  # the real one was not spent


@pytest.mark.parametrize("junk", ["", "x", "a.b.c", "€" * 10, 123, None, ["t"], "A" * 5000])
def test_junk_is_invalid_and_never_a_500(keyed, junk):
    answer = redeem(keyed.test_client(), junk)
    assert answer.status_code == 400
    assert answer.json["error"] in {"invalid_token", "invalid_request"}


def test_an_expired_token_is_invalid(settings, redis_url):
    client = create_app({**settings, **KEYS, "SMS_VERIFICATION_TOKEN_TTL": "1"}).test_client()
    token = token_for(client, redis_url)
    time.sleep(2.2)

    answer = redeem(client, token)
    assert (answer.status_code, answer.json["error"]) == (400, "invalid_token")


def test_a_token_of_another_deployment_is_invalid(settings, redis_url):
    other = create_app({**settings, **KEYS, "SECRET_KEY": "another-deployment-key"}).test_client()
    token = token_for(other, redis_url)

    ours = create_app({**settings, **KEYS}).test_client()
    answer = redeem(ours, token)
    assert (answer.status_code, answer.json["error"]) == (400, "invalid_token")


def test_a_token_signed_before_a_key_rotation_still_redeems(settings, redis_url):
    before = create_app({**settings, **KEYS, "SECRET_KEY": "the-old-key"}).test_client()
    token = token_for(before, redis_url)

    rotated = {"SECRET_KEY": "the-new-key", "SECRET_KEY_FALLBACKS": "the-old-key"}
    after = create_app({**settings, **KEYS, **rotated}).test_client()
    assert redeem(after, token).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong", f"Basic {API_KEY}", f"Bearer {API_KEY}x", API_KEY],
)
def test_no_or_a_wrong_key_is_401(keyed, redis_url, authorization):
    client = keyed.test_client()
    token = token_for(client, redis_url)
    headers = {"Authorization": authorization} if authorization is not None else {}

    answer = client.post(REDEEM, json={"verification_token": token}, headers=headers)
    assert (answer.status_code, answer.json["error"]) == (401, "unauthorized")
    assert redeem(client, token).status_code == 200  # nothing was spent


def test_without_api_keys_the_route_is_404(client, redis_url):
    token = token_for(client, redis_url)
    answer = redeem(client, token)
    assert (answer.status_code, answer.json["error"]) == (404, "not_found")


def test_the_per_ip_limit_spares_an_authenticated_backend(settings, redis_url):
    limited = {**settings, **KEYS, "RATELIMIT_VERIFY_PER_IP": "2 per minute"}
    client = create_app(limited).test_client()

    for _ in range(5):
        assert redeem(client, "forged").json["error"] == "invalid_token"
    statuses = [redeem(client, "forged", key="guess").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_concurrent_redeems_of_one_token_give_exactly_one_200(
    start_web, start_worker, sim, settings
):
    start_worker(pool="threads")
    web = start_web(env=KEYS, extra=["--threads", "8"])
    assert requests.post(f"{web}/users/sms/{MOBILE}", timeout=10).status_code == 200
    [sms] = sim.wait_for(1)
    verified = requests.post(
        f"{web}/users/sms/{MOBILE}/verify", json={"code": sms["datas"][0]}, timeout=10
    ).json()
    token = verified["verification_token"]

    def attempt(_: int) -> int:
        return requests.post(
            f"{web}{REDEEM}",
            json={"verification_token": token},
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=10,
        ).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(attempt, range(40)))
    assert sorted(statuses) == [200] + [400] * 39


def test_the_python_api_redeems_once(keyed, redis_url):
    token = token_for(keyed.test_client(), redis_url, purpose="reset_password")
    with keyed.app_context():
        redeemed = redeem_verification(token)
        assert (redeemed.mobile, redeemed.purpose) == (MOBILE, "reset_password")
        with pytest.raises(TokenUsed):
            redeem_verification(token)
        with pytest.raises(InvalidToken):
            redeem_verification(flip(token, 5))
