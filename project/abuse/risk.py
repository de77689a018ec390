"""When does a send look risky enough to ask for a captcha (``SMS_CAPTCHA=auto``)?

- the client address has had ``SMS_RISK_IP_PER_HOUR`` codes within the hour
  (an IPv6 client is counted per /64: one subscriber gets a whole /64);
- the number range (the first 7 digits, one carrier's block of 10,000
  numbers) has had ``SMS_RISK_RANGE_PER_HOUR`` codes within the hour;
- the conversion alarm is on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..ratelimit import address_key
from ..redis_store import Signals

RANGE_DIGITS = 7


def client_key(address: str | None) -> str | None:
    """The address as the risk counters key it (as the per-IP limit does); None if unknown."""
    return address_key(address) if address else None


def number_range(mobile: str) -> str:
    return mobile[:RANGE_DIGITS]


def looks_risky(signals: Signals, config: Mapping[str, Any]) -> bool:
    return (
        signals.alarm
        or signals.ip_hour >= config["SMS_RISK_IP_PER_HOUR"]
        or signals.range_hour >= config["SMS_RISK_RANGE_PER_HOUR"]
    )
