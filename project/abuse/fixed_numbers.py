"""Test numbers (``SMS_TEST_NUMBERS``): a fixed code, no SMS, no limit.

For app-store review and staging: the reviewer's number gets the code they
were told, whatever the cooldown, the caps, the budgets or the captcha.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, request

from ..mobile import mask_mobile

logger = logging.getLogger(__name__)


def fixed_code(mobile: str) -> str | None:
    """The fixed code of a test number, or None for every real number."""
    return current_app.config["SMS_TEST_NUMBERS"].get(mobile)


def requested() -> bool:
    """True when the request is for a test number: the per-IP limit exempts it too."""
    return fixed_code((request.view_args or {}).get("mobile", "")) is not None


def log_at_startup(app: Flask) -> None:
    numbers = app.config["SMS_TEST_NUMBERS"]
    if numbers:
        logger.info(
            "test numbers (fixed code, no SMS, no limits): %s",
            ", ".join(mask_mobile(mobile) for mobile in numbers),
        )
