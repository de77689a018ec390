"""A steady stream of sends for the failover tests, and what it amounted to.

Each send goes to a new mobile, so every 200 must become exactly one SMS and
a missing or doubled one is plain to see.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests


@dataclass
class Answer:
    mobile: str
    sent_at: float  # time.time()
    answered_at: float
    status: int  # 0: no answer at all (connection refused, time-out)


@dataclass
class SteadySender:
    """POST /users/sms/<new mobile> ``rate`` times a second, from a few threads."""

    web: str
    rate: float
    count: int | None = None
    prefix: str = "137"
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    def start(self) -> SteadySender:
        self._thread.start()
        return self

    def stop(self) -> list[Answer]:
        self._stop.set()
        self._thread.join()
        return sorted(self.answers, key=lambda a: a.sent_at)

    def wait(self, timeout: float) -> list[Answer]:
        """Until ``count`` sends were answered."""
        self._thread.join(timeout)
        return self.stop()

    def sent(self) -> int:
        with self._lock:
            return len(self.answers)

    def _run(self) -> None:
        with ThreadPoolExecutor(8) as pool:
            n, start = 0, time.monotonic()
            while not self._stop.is_set() and (self.count is None or n < self.count):
                pool.submit(self._send, f"{self.prefix}{n:08d}")
                n += 1
                delay = start + n / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    def _send(self, mobile: str) -> None:
        sent = time.time()
        try:
            status = requests.post(f"{self.web}/users/sms/{mobile}", timeout=15).status_code
        except requests.RequestException:
            status = 0
        with self._lock:
            self.answers.append(Answer(mobile, sent, time.time(), status))


@dataclass
class Outcome:
    statuses: dict[int, int]
    duplicates: list[str]  # mobiles that got more than one SMS
    missing_before: list[str]  # 200 to a request sent before the fault, no SMS
    missing_after: list[str]  # 200 to a request sent after it, no SMS
    first_200_after: float | None  # seconds from the fault to the next 200
    last_error_after: float | None  # seconds from the fault to the last non-200

    def summary(self) -> str:
        return (
            f"answers {self.statuses}; SMS missing for a 200 before the fault: "
            f"{len(self.missing_before)}, after: {len(self.missing_after)}; duplicates: "
            f"{len(self.duplicates)}; first 200 after the fault: {self.first_200_after:.1f} s; "
            f"last non-200 at: {self.last_error_after or 0:.1f} s"
        )


def outcome(answers: list[Answer], delivered: list[dict], fault_at: float) -> Outcome:
    """What ``answers`` became, given the SMS ``delivered`` and the fault's time."""
    received = Counter(r["to"] for r in delivered)
    ok = [a for a in answers if a.status == 200]
    after = [a.answered_at - fault_at for a in ok if a.sent_at >= fault_at]
    errors = [a.answered_at - fault_at for a in answers if a.status != 200]
    return Outcome(
        statuses=dict(Counter(a.status for a in answers)),
        duplicates=sorted(m for m, n in received.items() if n > 1),
        missing_before=[a.mobile for a in ok if a.sent_at < fault_at and not received[a.mobile]],
        missing_after=[a.mobile for a in ok if a.sent_at >= fault_at and not received[a.mobile]],
        first_200_after=min(after) if after else None,
        last_error_after=max(errors) if errors else None,
    )
