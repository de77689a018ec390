"""Conversion: codes verified against codes issued, and the alarm on it.

Real users verify most of their codes; SMS pumping sends codes to numbers
that never verify. The beat job ``check_conversion`` compares the last
hour's counts: below ``SMS_CONVERSION_ALARM_RATIO`` on at least
``SMS_CONVERSION_MIN_ISSUED`` codes it raises the alarm (an ERROR line, the
``sms_conversion_alarm`` gauge) and ``SMS_CAPTCHA=auto`` asks every send for
a captcha; it clears when the ratio recovers or the volume falls away.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app

from ..errors import UNAVAILABLE
from ..redis_store import TIMEZONE, get_abuse_store

logger = logging.getLogger(__name__)


def count_verified() -> None:
    """Count one verified code (this hour's conversion and ``sms_codes_verified``).

    The code is already used up: a Redis hiccup here must not turn the
    user's success into a 503.
    """
    try:
        get_abuse_store().count_verified(datetime.now(TIMEZONE))
    except UNAVAILABLE:
        logger.warning("a verified code was not counted: Redis unavailable")


def ratio(issued: float, verified: float) -> float:
    """Verified per issued; 1 when nothing was issued (nothing to worry about)."""
    return min(1.0, verified / issued) if issued > 0 else 1.0


def check() -> bool:
    """Raise or clear the alarm from the last hour's counts; True while it is on."""
    config = current_app.config
    store = get_abuse_store()
    issued, verified = store.last_hour(datetime.now(TIMEZONE))
    threshold, volume = config["SMS_CONVERSION_ALARM_RATIO"], config["SMS_CONVERSION_MIN_ISSUED"]
    now_ratio = ratio(issued, verified)
    if issued >= volume and now_ratio < threshold:
        if store.raise_alarm():
            logger.error(
                "conversion alarm: %.0f codes issued in the last hour, %.0f verified "
                "(ratio %.2f below %.2f): SMS pumping? every send now needs a captcha",
                issued,
                verified,
                now_ratio,
                threshold,
            )
        return True
    if store.clear_alarm():
        logger.warning(
            "conversion alarm cleared: %.0f codes issued in the last hour, %.0f verified "
            "(ratio %.2f)",
            issued,
            verified,
            now_ratio,
        )
    return False
