"""The provider chain: first provider whose circuit lets it, failing over only when safe.

A send goes to the first provider whose breaker is closed (or whose one probe
it is). When that provider certainly did not take the message (refused
connection, credentials or configuration refused, a documented refusal
before acceptance) the same send goes on to the next at once. Any other
outcome ends the attempt there: success, a permanent error, or an ambiguous
failure such as a read time-out. Before each call the send is pinned to the
provider in Redis, so that a retry of an ambiguous attempt, even by another
worker after a crash, goes to that provider again and never elsewhere.

An attempt is three steps: ``begin`` (one round trip: the ledger's lock, the
record, the pin to the first choice, the breakers' state), ``send`` (the
provider calls; Redis again only when a breaker has opened or a provider
refused) and ``finish`` (one round trip: the outcome for the ledger, the
record and the breakers).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from flask import Flask, current_app

from ..providers.base import Action, SendResult, SmsProvider, Verdict
from ..redis_store import Begun, CircuitBreakers, ProviderCall, SendLedger

logger = logging.getLogger(__name__)

CHAIN = "sms_chain"
ALL_OPEN = Verdict(Action.RETRY, "every provider's circuit is open")


@dataclass(frozen=True)
class Attempt:
    """One attempt's outcome, and the provider calls it made (for their breakers)."""

    result: SendResult
    calls: tuple[ProviderCall, ...] = ()


class ProviderChain:
    def __init__(
        self, providers: Sequence[SmsProvider], breakers: CircuitBreakers, ledger: SendLedger
    ) -> None:
        self.providers = {provider.name: provider for provider in providers}
        self.breakers, self.ledger = breakers, ledger

    def begin(self, send_id: str, owner: str, mobile: str, masked: str, channel: str) -> Begun:
        """Lock and record the send, pinned to its first choice; Redis errors propagate."""
        return self.ledger.begin(
            send_id, owner, mobile, masked, self.breakers, self._names(channel)
        )

    def send(
        self,
        begun: Begun,
        send_id: str,
        tid: str,
        mobile: str,
        datas: Sequence[str],
        masked: str,
        purpose: str | None = None,
        channel: str = "sms",
    ) -> Attempt:
        """One attempt of one send; Redis errors propagate, but only before a provider took it.

        A voice code goes only to the providers that place calls (``call``).
        """
        pinned = begun.pin
        if pinned in self.providers and not begun.fresh:
            names = [name for name in self._names(channel) if name == pinned]
        else:
            names = self._names(channel)
        result: SendResult | None = None
        calls: list[ProviderCall] = []
        for name in names:
            if name in begun.opened and self.breakers.allow(name) == "open":
                logger.info("SMS to %s [%s]: %s skipped, circuit open", masked, send_id, name)
                continue
            if name != pinned:
                self.ledger.pin(send_id, name)
                pinned = name
            started = time.perf_counter()
            provider = self.providers[name]
            if channel == "voice":
                result = provider.call(mobile, datas[0], purpose)  # type: ignore[attr-defined]
            else:
                result = provider.send(tid, mobile, datas, purpose)
            calls.append(_call(name, result, time.perf_counter() - started))
            if not result.failover:
                break
            self.ledger.pin(send_id, None)
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
            if begun.fresh and pinned:
                self.ledger.pin(send_id, None)  # tied to a provider it never reached
            return Attempt(SendResult(pinned or "chain", "CircuitOpen", ALL_OPEN))
        return Attempt(result, tuple(calls))

    def finish(self, send_id: str, attempt: Attempt | None, counter: str, failed: bool) -> None:
        """Record the attempt: release the lock, count ``counter``, mark a send that went out.

        ``failed``: the send is given up, and its record says so.
        """
        result = attempt.result if attempt is not None else None
        self.ledger.finish(
            send_id,
            counter,
            breakers=self.breakers,
            calls=attempt.calls if attempt is not None else (),
            sent_by=(result.provider, result.message_id) if result and result.ok else None,
            failure=counter if failed else None,
        )

    def callers(self) -> list[str]:
        """The providers that place voice code calls (``call``): RongLian, and console."""
        return [name for name, provider in self.providers.items() if hasattr(provider, "call")]

    def _names(self, channel: str) -> list[str]:
        return self.callers() if channel == "voice" else list(self.providers)

    def states(self) -> dict[str, str]:
        """Each provider's circuit: closed, open or half_open."""
        return {name: self.breakers.state(name) for name in self.providers}


def _call(name: str, result: SendResult, seconds: float) -> ProviderCall:
    """The call as its breaker counts it: trouble of the vendor's, not of the number or code."""
    vendor_trouble = result.failover or result.verdict.action is Action.RETRY
    outcome = "failover" if result.failover else result.verdict.action.value
    return ProviderCall(name, ok=not vendor_trouble, outcome=outcome, seconds=seconds)


def get_chain(app: Flask | None = None) -> ProviderChain:
    return (app or current_app).extensions[CHAIN]
