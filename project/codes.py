"""Issuing and verifying codes: the service rules, with no HTTP in sight.

Host applications call ``issue_code`` and ``verify_code`` directly; the
blueprint and the CLI are thin callers of the same two functions.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from dataclasses import dataclass

from flask import current_app

from . import abuse
from .abuse import fixed_numbers
from .mobile import mask_mobile, validate_mobile
from .redis_store import COOLDOWN, DAILY_CAP, ISSUED, get_store
from .sealing import seal
from .tasks import enqueue_send

logger = logging.getLogger(__name__)

CODE_DIGITS = 6


class Cooldown(Exception):
    """A code was sent to this mobile moments ago."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry in {retry_after} s")
        self.retry_after = retry_after


class DailyLimit(Exception):
    """This mobile had its ``SMS_DAILY_LIMIT`` codes today (Beijing time)."""

    def __init__(self, retry_after: int, limit: int) -> None:
        super().__init__(f"daily limit of {limit} codes reached; retry in {retry_after} s")
        self.retry_after = retry_after
        self.limit = limit


class WrongCode(Exception):
    """The code does not match; ``attempts_left`` more guesses are allowed."""

    def __init__(self, attempts_left: int) -> None:
        super().__init__(f"{attempts_left} attempts left")
        self.attempts_left = attempts_left


class NoCode(Exception):
    """No live code: never sent, expired, used or burned."""


class MalformedCode(ValueError):
    """The guess is not a code at all (not six ASCII digits); it costs no attempt."""

    def __init__(self) -> None:
        super().__init__(f"code must be {CODE_DIGITS} digits")


@dataclass(frozen=True)
class Issued:
    """What a caller may tell the user after a code was issued."""

    interval: int
    expires_in: int


def code_digest(mobile: str, code: str, key: str | None = None) -> str:
    """HMAC of mobile and code keyed by SECRET_KEY: what Redis holds instead of the code."""
    secret = (key or current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, f"{mobile}:{code}".encode(), hashlib.sha256).hexdigest()


def _matches(stored: str, mobile: str, code: str) -> bool:
    """Constant-time match under SECRET_KEY or any of SECRET_KEY_FALLBACKS.

    Every key is tried, whichever matches, so the time taken says nothing.
    """
    config = current_app.config
    keys = [config["SECRET_KEY"], *config["SECRET_KEY_FALLBACKS"]]
    found = False
    for key in keys:
        found |= hmac.compare_digest(stored, code_digest(mobile, code, key))
    return found


def issue_code(mobile: str, client: abuse.Client | None = None) -> Issued:
    """Store a fresh code for ``mobile`` and enqueue its SMS.

    ``client`` (the HTTP caller's address and captcha answer) makes the send
    pass the captcha rules; without one (CLI, host code) only budgets apply.
    Raises InvalidMobile, CaptchaRequired, CaptchaWrong, BudgetExhausted,
    Cooldown, DailyLimit, or the Redis/Kombu error that made the service
    unavailable; in every case no cooldown and no code remain.
    """
    validate_mobile(mobile)
    config = current_app.config
    ttl, interval = config["SMS_CODE_TTL"], config["SMS_SEND_INTERVAL"]
    store = get_store()
    fixed = fixed_numbers.fixed_code(mobile)
    if fixed is not None:
        store.put_fixed(mobile, code_digest(mobile, fixed), ttl)
        logger.info("fixed code stored for test number %s; no SMS sent", mask_mobile(mobile))
        return Issued(interval=interval, expires_in=ttl)

    admission = abuse.admit(mobile, client)
    if admission.reservation is None:
        raise Cooldown(admission.cooldown)
    reservation = admission.reservation
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    digest = code_digest(mobile, code)
    token = secrets.token_hex(8)
    claim = store.claim(
        mobile, token, digest, interval, ttl, config["SMS_DAILY_LIMIT"], reservation
    )
    if claim.outcome != ISSUED:
        abuse.give_back(reservation)
    if claim.outcome == COOLDOWN:
        raise Cooldown(claim.wait)
    if claim.outcome == DAILY_CAP:
        raise DailyLimit(claim.wait, config["SMS_DAILY_LIMIT"])
    try:
        abuse.settle(reservation)
    except abuse.BudgetExhausted:
        store.release(mobile, token, digest)
        abuse.give_back(reservation)
        raise
    try:
        enqueue_send(
            config["RONGLIAN_TEMPLATE_ID"],
            mobile,
            [seal(code, mobile, ttl), str(math.ceil(ttl / 60))],
            expires=ttl,
        )
    except Exception:
        logger.warning("could not enqueue the SMS to %s; undoing its cooldown", mask_mobile(mobile))
        try:
            store.release(mobile, token, digest)
            abuse.give_back(reservation)
        except Exception:
            logger.exception("could not undo the cooldown of %s", mask_mobile(mobile))
        raise
    logger.info("code issued to %s", mask_mobile(mobile))
    return Issued(interval=interval, expires_in=ttl)


def verify_code(mobile: str, code: str) -> None:
    """Accept ``code`` for ``mobile`` once, or raise NoCode / WrongCode."""
    validate_mobile(mobile)
    if not (
        isinstance(code, str) and len(code) == CODE_DIGITS and code.isascii() and code.isdigit()
    ):
        raise MalformedCode()
    store = get_store()
    stored = store.current_digest(mobile)
    if stored is None:
        raise NoCode()
    if _matches(stored, mobile, code):
        if store.consume(mobile, stored):
            logger.info("code verified for %s", mask_mobile(mobile))
            if fixed_numbers.fixed_code(mobile) is None:
                abuse.count_verified()
            return
        raise NoCode()
    left = store.wrong_guess(mobile, stored, current_app.config["SMS_VERIFY_MAX_ATTEMPTS"])
    if left < 0:
        raise NoCode()
    if left == 0:
        logger.info("code for %s burned after too many wrong guesses", mask_mobile(mobile))
    raise WrongCode(left)
