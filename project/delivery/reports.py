"""Recording the vendors' delivery reports against their sends."""

from __future__ import annotations

import logging
import time

from ..providers.reports import DeliveryReport
from ..redis_store import get_ledger

logger = logging.getLogger(__name__)


def record_reports(provider: str, reports: list[DeliveryReport]) -> dict[str, int]:
    """Apply each report to its send (forward only) and count it; outcomes counted."""
    ledger = get_ledger()
    outcomes: dict[str, int] = {}
    for report in reports:
        state = "delivered" if report.delivered else "failed"
        outcome, seconds = ledger.report(
            provider, report.message_id, state, report.code, report.at or time.time()
        )
        ledger.count_report(provider, outcome, seconds)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcome == "unknown":
            logger.info("%s report for an unknown message id ignored", provider)
    return outcomes
