"""What a provider is, for the task and the chain: they know this, never a vendor.

A provider sends one template SMS and answers a ``SendResult``: which
provider, the vendor's own status code, the verdict from that vendor's status
table (sent, retry, give up), whether the vendor certainly did not take the
message (then another vendor may be tried at once), and the vendor's message
id, by which its delivery report finds the send.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError


class Action(Enum):
    SENT = "sent"
    RETRY = "retry"  # transient: back off and try again, while the code lives
    GIVE_UP = "give_up"  # permanent or a provider limit: retrying cannot help


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str
    max_retries: int | None = None  # a tighter budget than the task's own
    # The vendor certainly did not accept this message, for a reason of its
    # own or of our account with it (not of the number or the code): another
    # vendor may send it now without any risk of a second SMS.
    failover: bool = False


SENT = Verdict(Action.SENT, "sent")


@dataclass(frozen=True)
class SendResult:
    """One provider's answer to one send."""

    provider: str
    status_code: str
    verdict: Verdict
    message_id: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict.action is Action.SENT

    @property
    def failover(self) -> bool:
        return self.verdict.failover


class SmsProvider(Protocol):
    name: str

    def send(
        self, tid: str, mobile: str, datas: Sequence[str], purpose: str | None = None
    ) -> SendResult:
        """Send one template SMS; never raises for a provider-side failure.

        ``tid`` is RongLian's template id (as the task received it); the
        other vendors take their template from ``purpose`` (None: the first
        of ``SMS_PURPOSES``).
        """
        ...


def _causes(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        # ``reason``: urllib3's MaxRetryError; ``inner_exception``: the Aliyun SDK's wrapper.
        stack += [current.__cause__, current.__context__]
        stack += [getattr(current, "reason", None), getattr(current, "inner_exception", None)]
        stack += [arg for arg in current.args if isinstance(arg, BaseException)]


def never_connected(exc: BaseException | None) -> bool:
    """True when the request never reached the vendor (refused, unresolvable, connect timeout).

    Only then is a network failure safe to send elsewhere: a read timeout or a
    dropped connection after the request went out may mean it was accepted.
    """
    return any(
        isinstance(cause, (NewConnectionError, ConnectTimeoutError, requests.ConnectTimeout))
        for cause in _causes(exc)
    )
