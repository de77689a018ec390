"""The provider chain and its circuit breakers, in-process against real Redis and the simulators."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from project import create_app
from project.delivery.chain import get_chain
from project.providers import Action
from project.redis_store import CircuitBreakers, ProviderCall, get_ledger, get_redis
from tests.conftest import attempt_send

pytestmark = pytest.mark.code_store

MOBILE = "13812345678"


@pytest.fixture
def chain_app(vendor_settings):
    def build(**changes: str):
        return create_app({**vendor_settings, "SMS_PROVIDER": "ronglian,aliyun", **changes})

    return build


def send(app, mobile: str = MOBILE, send_id: str | None = None):
    return attempt_send(app, send_id or uuid.uuid4().hex, mobile, ["123456", "5"], "138****5678")


def test_a_refused_connection_fails_over_to_the_next_provider_at_once(
    chain_app, aliyun_sim, unused_port
):
    app = chain_app(RONGLIAN_BASE_URL=f"http://127.0.0.1:{unused_port}")

    result = send(app)

    assert (result.ok, result.provider) == (True, "aliyun")
    assert len(aliyun_sim.requests()) == 1


def test_an_ambiguous_failure_stays_with_its_provider_even_on_the_next_attempt(
    chain_app, sim, aliyun_sim
):
    app = chain_app()
    sim.script({"drop": True}, {"status": "111109"})  # dropped, then an auth refusal
    send_id = uuid.uuid4().hex

    first = send(app, send_id=send_id)
    second = send(app, send_id=send_id)  # the retry: pinned to RongLian, no failover

    assert (first.provider, first.verdict.action, first.failover) == (
        "ronglian",
        Action.RETRY,
        False,
    )
    assert (second.provider, second.status_code) == ("ronglian", "111109")
    assert aliyun_sim.requests() == []


def test_a_permanent_error_about_the_number_is_not_sent_elsewhere(chain_app, sim, aliyun_sim):
    sim.script({"status": "160042"})

    result = send(chain_app())

    assert (result.provider, result.verdict.action) == ("ronglian", Action.GIVE_UP)
    assert aliyun_sim.requests() == []


def test_with_every_circuit_open_the_send_is_retried_later(chain_app, sim, aliyun_sim):
    app = chain_app(SMS_BREAKER_FAILURES="1", SMS_BREAKER_COOLDOWN="60")
    sim.script({"status": "111109"})
    aliyun_sim.script({"http": 503})
    send(app)  # both fail once: both open

    result = send(app)

    assert (result.status_code, result.verdict.action) == ("CircuitOpen", Action.RETRY)
    assert len(sim.requests()) == 1 and len(aliyun_sim.requests()) == 1


def count_call(breakers: CircuitBreakers, call: ProviderCall) -> None:
    """Count a call as the worker's ``finish`` does, without a send."""
    with breakers.client.pipeline(transaction=False) as pipe:
        breakers.queue_record(pipe, call)
        pipe.execute()


def record_of(app, send_id: str) -> dict[str, str]:
    with app.app_context():
        return next(s for s in get_ledger().last_sends(MOBILE) if s["id"] == send_id)


def test_a_send_skips_an_open_circuit_and_is_tied_to_the_provider_that_took_it(
    chain_app, sim, aliyun_sim
):
    app = chain_app(SMS_BREAKER_FAILURES="1", SMS_BREAKER_COOLDOWN="60")
    with app.app_context():
        count_call(get_chain().breakers, ProviderCall("ronglian", False, "retry", 0.1))
    send_id = uuid.uuid4().hex

    result = send(app, send_id=send_id)

    assert (result.ok, result.provider) == (True, "aliyun")
    assert sim.requests() == [] and len(aliyun_sim.requests()) == 1
    record = record_of(app, send_id)
    assert (record["state"], record["provider"], record["pin"]) == ("sent", "aliyun", "aliyun")


def test_a_send_that_reached_no_provider_is_tied_to_none(chain_app, sim, aliyun_sim):
    app = chain_app(SMS_BREAKER_FAILURES="1", SMS_BREAKER_COOLDOWN="60")
    with app.app_context():
        for name in ("ronglian", "aliyun"):
            count_call(get_chain().breakers, ProviderCall(name, False, "retry", 0.1))
    send_id = uuid.uuid4().hex

    result = send(app, send_id=send_id)

    assert result.status_code == "CircuitOpen"
    assert sim.requests() == [] and aliyun_sim.requests() == []
    record = record_of(app, send_id)
    assert record["state"] == "queued" and "pin" not in record  # its retry may go anywhere


def test_a_redelivered_send_that_already_went_out_calls_no_provider(chain_app, sim, aliyun_sim):
    app = chain_app()
    send_id = uuid.uuid4().hex
    send(app, send_id=send_id)

    with app.app_context():
        again = get_chain().begin(send_id, "another-owner", MOBILE, "138****5678", "sms")

    assert again.state == "sent"
    assert len(sim.requests()) == 1 and aliyun_sim.requests() == []


@pytest.fixture
def breakers(redis_url, app):
    return CircuitBreakers(get_redis(app), failures=3, cooldown=0.5, probe_lease=5)


def test_a_breaker_opens_after_n_consecutive_failures_only(breakers):
    for _ in range(2):
        count_call(breakers, ProviderCall("ronglian", False, "retry", 0.1))
    count_call(breakers, ProviderCall("ronglian", True, "sent", 0.1))  # the run is broken
    for _ in range(2):
        count_call(breakers, ProviderCall("ronglian", False, "retry", 0.1))
    assert breakers.allow("ronglian") == "closed"

    count_call(breakers, ProviderCall("ronglian", False, "retry", 0.1))

    assert breakers.allow("ronglian") == "open"
    assert breakers.state("ronglian") == "open"
    assert breakers.allow("aliyun") == "closed"  # one breaker per provider


def test_after_the_cooldown_exactly_one_of_many_workers_probes(breakers):
    for _ in range(3):
        count_call(breakers, ProviderCall("ronglian", False, "retry", 0.1))
    time.sleep(0.6)
    assert breakers.state("ronglian") == "half_open"

    with ThreadPoolExecutor(8) as pool:
        gates = list(pool.map(lambda _: breakers.allow("ronglian"), range(16)))

    assert sorted(gates) == ["open"] * 15 + ["probe"]


def test_a_successful_probe_closes_and_a_failed_one_reopens(breakers):
    for _ in range(3):
        count_call(breakers, ProviderCall("ronglian", False, "retry", 0.1))
    time.sleep(0.6)
    assert breakers.allow("ronglian") == "probe"
    count_call(breakers, ProviderCall("ronglian", False, "retry", 0.1))
    assert breakers.allow("ronglian") == "open"  # a new cool-down

    time.sleep(0.6)
    assert breakers.allow("ronglian") == "probe"
    count_call(breakers, ProviderCall("ronglian", True, "sent", 0.1))

    assert breakers.allow("ronglian") == "closed"
    assert breakers.state("ronglian") == "closed"


def test_readyz_shows_each_circuit_and_stays_ready_while_one_is_open(chain_app, sim, aliyun_sim):
    app = chain_app(SMS_BREAKER_FAILURES="1")
    sim.script({"status": "111109"})
    send(app)

    answer = app.test_client().get("/readyz")

    assert answer.status_code == 200
    assert answer.json["providers"] == {"ronglian": "open", "aliyun": "closed"}
    metrics = app.test_client().get("/metrics").text
    assert 'sms_provider_circuit_state{provider="ronglian"} 2.0' in metrics
    assert 'sms_provider_sends_total{outcome="failover",provider="ronglian"} 1.0' in metrics
    assert 'sms_provider_latency_seconds_count{provider="ronglian"} 1.0' in metrics


def test_provider_latency_is_a_cumulative_histogram_on_metrics(chain_app, breakers):
    app = chain_app()
    for seconds in (0.03, 0.3, 20.0):
        count_call(breakers, ProviderCall("ronglian", True, "sent", seconds))

    metrics = app.test_client().get("/metrics").text

    for bound, count in (("0.05", 1), ("0.25", 1), ("0.5", 2), ("10.0", 2), ("+Inf", 3)):
        line = f'sms_provider_latency_seconds_bucket{{le="{bound}",provider="ronglian"}} {count}.0'
        assert line in metrics
    assert 'sms_provider_latency_seconds_count{provider="ronglian"} 3.0' in metrics
    assert 'sms_provider_latency_seconds_sum{provider="ronglian"} 20.33' in metrics
