"""Chinese mobile numbers: the one place that says what is valid and how to mask it."""

from __future__ import annotations

import re

# [0-9] and fullmatch, not \d and $: those accept full-width and other Unicode
# digits and a trailing newline.
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
# A mobile inside any text (log lines), not glued to other digits, also in
# the +86 form some vendors use.
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9])((?:\+?86)?1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])")


class InvalidMobile(ValueError):
    """The value is not an 11-digit mainland mobile number."""

    def __init__(self) -> None:
        super().__init__("mobile must be 11 digits starting with 13-19")


def validate_mobile(value: str) -> str:
    """Return ``value`` if it is a valid mobile, else raise InvalidMobile."""
    if not isinstance(value, str) or not _MOBILE.fullmatch(value):
        raise InvalidMobile()
    return value


def mask_mobile(mobile: str) -> str:
    """``13812345678`` -> ``138****5678``; anything else is hidden whole."""
    if isinstance(mobile, str) and _MOBILE.fullmatch(mobile):
        return f"{mobile[:3]}****{mobile[-4:]}"
    return "***"


def mask_mobiles_in(text: str) -> str:
    """Mask every mobile number found in free text."""
    return _MOBILE_IN_TEXT.sub(r"\1****\2", text)
