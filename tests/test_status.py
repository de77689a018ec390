"""The statusCode table and the back-off: what is retried, what is given up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from project.providers.status import Action, classify
from project.tasks import backoff

pytestmark = pytest.mark.code_store


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("000000", Action.SENT),
        ("172001", Action.RETRY),
        ("500", Action.RETRY),
        ("503", Action.RETRY),
        ("429", Action.RETRY),
        ("160000", Action.RETRY),
        ("160005", Action.RETRY),
        ("111111", Action.RETRY),
        ("160042", Action.GIVE_UP),  # bad number
        ("160034", Action.GIVE_UP),  # blacklist
        ("112311", Action.GIVE_UP),  # template missing
        ("111109", Action.GIVE_UP),  # wrong token
        ("111142", Action.GIVE_UP),  # balance
        ("113302", Action.GIVE_UP),  # sandbox number
        ("160038", Action.GIVE_UP),  # too frequent: retrying earns the same
        ("160040", Action.GIVE_UP),  # daily cap
        ("404", Action.GIVE_UP),
    ],
)
def test_status_codes_are_sorted_as_the_table_says(status, action):
    assert classify(status).action is action


def test_generic_send_failures_get_a_small_retry_budget():
    assert classify("160050").max_retries == 2
    assert classify("999999").action is Action.RETRY
    assert classify("999999").max_retries == 2


@given(st.text(max_size=12))
def test_every_answer_gets_a_verdict_and_only_000000_is_sent(status):
    verdict = classify(status)
    assert (verdict.action is Action.SENT) == (status == "000000")
    assert verdict.reason


def test_backoff_grows_exponentially_with_jitter_and_a_cap(app):
    with app.app_context():
        waits = [[backoff(n) for _ in range(200)] for n in range(8)]

    for n, samples in enumerate(waits):
        ceiling = min(30.0, 2.0 * 2**n)
        assert all(ceiling / 2 <= w <= ceiling for w in samples)
        assert len(set(samples)) > 100  # jittered, not a fixed schedule
    assert max(waits[-1]) <= 30.0
