"""The provider chain: first provider whose circuit lets it, failing over only when safe.

A send goes to the first provider whose breaker is closed (or whose one probe
it is). When that provider certainly did not take the message (refused
connection, credentials or configuration refused, a documented refusal
before acceptance) the same send goes on to the next at once. Any other
outcome ends the attempt there: success, a permanent error, or an ambiguous
failure such as a read time-out. Before each call the send is pinned to the
provider in Redis, so that a retry of an ambiguous attempt, even by another
worker after a crash, goes to that provider again and never elsewhere.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from flask import Flask, current_app

from ..errors import UNAVAILABLE
from ..providers.base import Action, SendResult, SmsProvider, Verdict
from ..redis_store import CircuitBreakers, SendRecords

logger = logging.getLogger(__name__)

CHAIN, BREAKERS, RECORDS = "sms_chain", "sms_breakers", "sms_send_records"
ALL_OPEN = Verdict(Action.RETRY, "every provider's circuit is open")


class ProviderChain:
    def __init__(
        self, providers: Sequence[SmsProvider], breakers: CircuitBreakers, records: SendRecords
    ) -> None:
        self.providers = {provider.name: provider for provider in providers}
        self.breakers, self.records = breakers, records

    def send(
        self,
        send_id: str,
        tid: str,
        mobile: str,
        datas: Sequence[str],
        masked: str,
        purpose: str | None = None,
        channel: str = "sms",
    ) -> SendResult:
        """One attempt of one send; Redis errors propagate (the task retries them).

        A voice code goes only to the providers that place calls (``call``).
        """
        pinned = self.records.start(send_id, mobile, masked, time.time())
        names = [pinned] if pinned in self.providers else list(self.providers)
        if channel == "voice":
            names = [name for name in names if name in self.callers()]
        result: SendResult | None = None
        for name in names:
            gate = self.breakers.allow(name)
            if gate == "open":
                logger.info("SMS to %s [%s]: %s skipped, circuit open", masked, send_id, name)
                continue
            if name != pinned:
                self.records.pin(send_id, name)
            started = time.perf_counter()
            provider = self.providers[name]
            if channel == "voice":
                result = provider.call(mobile, datas[0], purpose)  # type: ignore[attr-defined]
            else:
                result = provider.send(tid, mobile, datas, purpose)
            self._record(name, result, time.perf_counter() - started)
            if not result.failover:
                break
            self.records.pin(send_id, None)
            pinned = None
            logger.warning(
                "SMS to %s [%s]: %s did not take it (%s %s); trying the next provider",
                masked,
                send_id,
                name,
                result.status_code,
                result.verdict.reason,
            )
        if result is None:
            return SendResult(pinned or "chain", "CircuitOpen", ALL_OPEN)
        if result.ok:
            try:
                self.records.sent(send_id, result.provider, result.message_id, time.time())
            except UNAVAILABLE:
                logger.warning(
                    "SMS to %s [%s]: record not kept, Redis unavailable", masked, send_id
                )
        return result

    def callers(self) -> list[str]:
        """The providers that place voice code calls (``call``): RongLian, and console."""
        return [name for name, provider in self.providers.items() if hasattr(provider, "call")]

    def _record(self, name: str, result: SendResult, seconds: float) -> None:
        """Count the call against the provider's breaker; after a call, never raise."""
        # A failure of the vendor's (not of the number or the code) counts
        # against its breaker; a definite answer about this message proves it up.
        vendor_trouble = result.failover or result.verdict.action is Action.RETRY
        outcome = "failover" if result.failover else result.verdict.action.value
        try:
            self.breakers.record(name, ok=not vendor_trouble, outcome=outcome, seconds=seconds)
        except UNAVAILABLE:
            logger.warning("%s: outcome not counted by its breaker, Redis unavailable", name)

    def failed(self, send_id: str, reason: str) -> None:
        """The task gave the send up: its record says so (never fails the caller)."""
        try:
            self.records.failed(send_id, reason)
        except UNAVAILABLE:
            logger.warning("send %s: failure not recorded, Redis unavailable", send_id)

    def states(self) -> dict[str, str]:
        """Each provider's circuit: closed, open or half_open."""
        return {name: self.breakers.state(name) for name in self.providers}


def get_chain(app: Flask | None = None) -> ProviderChain:
    return (app or current_app).extensions[CHAIN]
