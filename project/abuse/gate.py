"""The gate a send passes before its code is claimed: cooldown, budgets, captcha.

``admit`` makes one round trip of reads (and takes a presented captcha away)
and refuses before any write where it can; it hands back the reservation of
the service-wide counters that rides along with the claim, or the seconds
left of the mobile's cooldown for the caller to refuse with. ``settle`` then
checks the budgets against the reserved counts, and ``give_back`` undoes a
reservation whose send did not go out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from .. import metrics
from ..redis_store import CAPTCHA_ID, TIMEZONE, Reservation, get_abuse_store
from . import budgets, captcha, risk


@dataclass(frozen=True)
class Client:
    """Who asks for a send over HTTP: their address and the captcha they answered.

    A send without a Client (the CLI, a host application's own code) is a
    trusted caller: no captcha, but the budgets still apply.
    """

    address: str | None
    captcha_id: str | None = None
    captcha: str | None = None


@dataclass(frozen=True)
class Admission:
    """Either a reservation to claim the code with, or the cooldown that refuses it."""

    reservation: Reservation | None
    cooldown: int = 0


def admit(mobile: str, client: Client | None) -> Admission:
    """Refuse the send (CaptchaRequired, CaptchaWrong, BudgetExhausted) or reserve for it."""
    config = current_app.config
    store = get_abuse_store()
    now = datetime.now(TIMEZONE)
    mode = config["SMS_CAPTCHA"] if client is not None else "off"
    auto = mode == "auto"
    address = risk.client_key(client.address) if client is not None and auto else None
    prefix = risk.number_range(mobile) if auto else None
    presented = (
        mode != "off"
        and client is not None
        and client.captcha_id is not None
        and client.captcha is not None
    )
    if mode == "off" and not (config["SMS_HOURLY_BUDGET"] or config["SMS_DAILY_BUDGET"]):
        # Nothing to read first: the claim script checks the cooldown itself.
        return Admission(store.reservation(now, None, None))
    captcha_id = (
        client.captcha_id if presented and CAPTCHA_ID.fullmatch(client.captcha_id) else None
    )
    signals = store.read(now, mobile, address, prefix, captcha_id)
    if signals.cooldown:
        metrics.count(metrics.CODES_REQUESTED, metrics.COOLDOWN_REFUSALS)
        return Admission(None, signals.cooldown)
    budgets.check(signals.issued_hour + 1, signals.issued_day + 1, now)
    if mode == "always" or (auto and risk.looks_risky(signals, config)):
        if not presented:
            metrics.count(metrics.CAPTCHA_REQUIRED)
            raise captcha.CaptchaRequired()
        try:
            captcha.check(client.captcha_id, client.captcha, signals.captcha_digest)
        except captcha.CaptchaWrong:
            metrics.count(metrics.CAPTCHA_WRONG)
            raise
    return Admission(store.reservation(now, address, prefix))


def settle(reservation: Reservation) -> None:
    """Raise BudgetExhausted if the reserved counts went past a budget (a race lost)."""
    budgets.check(reservation.issued_hour, reservation.issued_day, datetime.now(TIMEZONE))


def give_back(reservation: Reservation) -> None:
    get_abuse_store().give_back(reservation)
