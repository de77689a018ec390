"""Service-wide budgets: a bill that cannot run away.

``SMS_HOURLY_BUDGET`` and ``SMS_DAILY_BUDGET`` (0 = no cap) count every code
the service issues per clock hour and per Beijing day. Past one, every send
is refused until the window turns. The count is taken with INCR before the
claim (``redis_store.Reservation``) and given back when the send is refused,
so of any number of concurrent sends exactly the budget goes through.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app

from .. import metrics
from ..redis_store import (
    get_abuse_store,
    hour_label,
    seconds_until_next_hour,
    seconds_until_tomorrow,
    today,
)

logger = logging.getLogger(__name__)

SETTING = {"hour": "SMS_HOURLY_BUDGET", "day": "SMS_DAILY_BUDGET"}
# The window of each kind this process last logged; Redis makes it once service-wide.
_logged: dict[str, str] = {}


class BudgetExhausted(Exception):
    """The service issued its budget of codes for this hour or day."""

    def __init__(self, window: str, limit: int, retry_after: int) -> None:
        super().__init__(f"{SETTING[window]}={limit} spent; retry in {retry_after} s")
        self.window = window
        self.limit = limit
        self.retry_after = retry_after


def check(issued_hour: int, issued_day: int, now: datetime) -> None:
    """Raise BudgetExhausted when either count is past its budget."""
    config = current_app.config
    hourly, daily = config["SMS_HOURLY_BUDGET"], config["SMS_DAILY_BUDGET"]
    if daily and issued_day > daily:
        _refuse("day", today(now), daily, seconds_until_tomorrow(now))
    if hourly and issued_hour > hourly:
        _refuse("hour", hour_label(now), hourly, seconds_until_next_hour(now))


def _refuse(window: str, label: str, limit: int, retry_after: int) -> None:
    metrics.count(metrics.BUDGET_REFUSALS)
    if _logged.get(window) != label:
        _logged[window] = label
        if get_abuse_store().first_in_window(f"budget:{window}", label, retry_after + 60):
            logger.error(
                "%s=%d codes spent for %s: every send is refused until the window turns in %d s",
                SETTING[window],
                limit,
                label,
                retry_after,
            )
    raise BudgetExhausted(window, limit, retry_after)
