"""Sealed codes open only for their mobile, before their expiry, under a current or previous key."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from project import create_app
from project.sealing import SealBroken, seal, unseal

MOBILE = "13812345678"


def test_a_seal_opens_for_its_own_mobile(app):
    with app.app_context():
        assert unseal(seal("123456", MOBILE, 60), MOBILE) == "123456"


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(other=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_a_seal_never_opens_for_another_mobile(app, other):
    with app.app_context():
        sealed = seal("123456", MOBILE, 60)
        if other == MOBILE:
            return
        with pytest.raises(SealBroken, match="does not open for this mobile"):
            unseal(sealed, other)


def test_a_seal_does_not_open_after_its_own_expiry(app, monkeypatch):
    with app.app_context():
        sealed = seal("123456", MOBILE, 60)
        later = time.time() + 61
        monkeypatch.setattr(time, "time", lambda: later)
        with pytest.raises(SealBroken, match="expired"):
            unseal(sealed, MOBILE)


def test_a_tampered_seal_does_not_open(app):
    with app.app_context():
        sealed = seal("123456", MOBILE, 60)
        flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
        with pytest.raises(SealBroken):
            unseal(flipped, MOBILE)
        with pytest.raises(SealBroken, match="malformed"):
            unseal("sealed:not base64!", MOBILE)


def test_a_value_typed_by_hand_passes_unchanged(app):
    with app.app_context():
        assert unseal("123456", MOBILE) == "123456"


def test_a_seal_made_under_the_previous_key_opens_after_rotation(settings):
    old_key, new_key = "o" * 40, "n" * 40
    before = create_app({**settings, "SECRET_KEY": old_key})
    with before.app_context():
        sealed = seal("123456", MOBILE, 60)

    rotated = create_app({**settings, "SECRET_KEY": new_key, "SECRET_KEY_FALLBACKS": old_key})
    with rotated.app_context():
        assert unseal(sealed, MOBILE) == "123456"
        fresh = seal("654321", MOBILE, 60)

    # New seals use the new key: a worker still on the old key alone cannot open them.
    with before.app_context(), pytest.raises(SealBroken):
        unseal(fresh, MOBILE)
