"""What counts as a mobile, and how it is masked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from project.mobile import InvalidMobile, mask_mobile, mask_mobiles_in, validate_mobile

BAD = [
    "1381234567",  # too short
    "138123456789",  # too long
    "1381234567a",  # a letter
    "１３８１２３４５６７８",  # full-width digits
    "+8613812345678",
    "8613812345678",
    " 13812345678",
    "13812345678 ",
    "13812345678\n",
    "12812345678",  # second digit 2
    "03812345678",
    "١٣٨١٢٣٤٥٦٧٨",  # Arabic-Indic digits: \d would take them
    "1" * 2000,
    "",
]


@pytest.mark.parametrize("value", BAD)
def test_bad_mobiles_are_refused(value):
    with pytest.raises(InvalidMobile):
        validate_mobile(value)


@given(st.from_regex(r"\A1[3-9][0-9]{9}\Z"))
def test_every_mainland_mobile_is_accepted_and_masked(mobile):
    assert validate_mobile(mobile) == mobile
    masked = mask_mobile(mobile)
    assert masked == mobile[:3] + "****" + mobile[-4:]
    assert mobile not in mask_mobiles_in(f"path /users/sms/{mobile} done")


@given(st.text())
def test_validation_accepts_only_eleven_ascii_digits(value):
    try:
        validate_mobile(value)
    except InvalidMobile:
        return
    assert len(value) == 11 and value.isascii() and value.isdigit()


def test_masking_leaves_other_numbers_alone():
    assert mask_mobiles_in("task 1234567890123 took 13812345678 ms") == (
        "task 1234567890123 took 138****5678 ms"
    )
    assert mask_mobile("garbage") == "***"


def test_a_mobile_in_the_plus86_form_some_vendors_use_is_masked_too():
    assert mask_mobiles_in("to +8613812345678 and 8613812345678") == (
        "to +86138****5678 and 86138****5678"
    )
