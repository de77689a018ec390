"""What a vendor's delivery report says, whatever its push format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

# Both vendors stamp their reports in Beijing time, without a zone.
BEIJING = ZoneInfo("Asia/Shanghai")


class BadReport(ValueError):
    """The push is not in the vendor's format."""


@dataclass(frozen=True)
class DeliveryReport:
    message_id: str  # the vendor's id of the send (Aliyun BizId, Tencent SerialNo)
    delivered: bool
    code: str  # the vendor's (carrier's) report code, DELIVERED / DELIVRD / ...
    at: float | None  # when the phone got it (or the report was made), unix seconds


def beijing_time(text: object) -> float | None:
    """``2017-01-01 00:00:00`` in Beijing time as unix seconds; None if unreadable."""
    try:
        return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING).timestamp()
    except ValueError:
        return None


def message_id(value: object, field: str) -> str:
    """The vendor's message id: a non-empty string (or number), nothing else."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise BadReport(f"each report needs {field}")
    return str(value)


def items(payload: object) -> list[dict]:
    """The JSON array of report objects both vendors push."""
    if not isinstance(payload, list) or not all(isinstance(item, dict) for item in payload):
        raise BadReport("a JSON array of report objects is expected")
    return payload
