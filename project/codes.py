"""Issuing and verifying codes: the service rules, with no HTTP in sight.

Host applications call ``issue_code`` and ``verify_code`` directly; the
blueprint and the CLI are thin callers of the same two functions. A code is
issued for a purpose (one of ``SMS_PURPOSES``) and verifies for that purpose
only; the cooldown and the daily cap are the mobile's, whatever the purpose
or the channel (SMS or a RongLian voice call).
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
from .delivery.chain import get_chain
from .mobile import mask_mobile, validate_mobile
from .redis_store import COOLDOWN, DAILY_CAP, ISSUED, get_store
from .sealing import seal
from .tasks import CHANNELS, enqueue_send
from .verification_tokens import issue_token

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


class InvalidPurpose(ValueError):
    """Not one of ``SMS_PURPOSES``."""


class InvalidChannel(ValueError):
    """Not ``sms`` or ``voice``, or ``voice`` with no provider that calls."""


class MalformedCode(ValueError):
    """The guess is not a code at all (not six ASCII digits); it costs no attempt."""

    def __init__(self) -> None:
        super().__init__(f"code must be {CODE_DIGITS} digits")


@dataclass(frozen=True)
class Issued:
    """What a caller may tell the user after a code was issued."""

    interval: int
    expires_in: int


@dataclass(frozen=True)
class Verified:
    """A code verified: the token that vouches for it to the app's backend."""

    verification_token: str
    expires_in: int


def validate_purpose(purpose: str | None) -> str:
    """The purpose asked for, or the first of ``SMS_PURPOSES`` when none was (or an empty field)."""
    purposes = current_app.config["SMS_PURPOSES"]
    if not purpose:
        return purposes[0]
    if purpose not in purposes:
        raise InvalidPurpose(f"purpose must be one of {', '.join(purposes)}")
    return purpose


def validate_channel(channel: str | None) -> str:
    """``sms`` (the default) or ``voice`` when a provider of the chain can call."""
    channel = channel or "sms"
    if channel not in CHANNELS:
        raise InvalidChannel(f"channel must be one of {', '.join(CHANNELS)}")
    if channel == "voice" and not get_chain().callers():
        raise InvalidChannel("no provider of SMS_PROVIDER places voice calls")
    return channel


def template_id(purpose: str) -> str:
    """RongLian's template for ``purpose``: RONGLIAN_TEMPLATES, else RONGLIAN_TEMPLATE_ID."""
    config = current_app.config
    return config["RONGLIAN_TEMPLATES"].get(purpose, config["RONGLIAN_TEMPLATE_ID"])


def code_digest(mobile: str, purpose: str, code: str, key: str | None = None) -> str:
    """HMAC of mobile, purpose and code keyed by SECRET_KEY: what Redis holds instead.

    The purpose is inside the digest as well as in the key name: a login
    code moved under another purpose's key still never matches there.
    """
    secret = (key or current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, f"{mobile}:{purpose}:{code}".encode(), hashlib.sha256).hexdigest()


def _matches(stored: str, mobile: str, purpose: str, code: str) -> bool:
    """Constant-time match under SECRET_KEY or any of SECRET_KEY_FALLBACKS.

    Every key is tried, whichever matches, so the time taken says nothing.
    """
    config = current_app.config
    keys = [config["SECRET_KEY"], *config["SECRET_KEY_FALLBACKS"]]
    found = False
    for key in keys:
        found |= hmac.compare_digest(stored, code_digest(mobile, purpose, code, key))
    return found


def issue_code(
    mobile: str,
    client: abuse.Client | None = None,
    *,
    purpose: str | None = None,
    channel: str = "sms",
) -> Issued:
    """Store a fresh code for ``mobile`` and ``purpose`` and enqueue its SMS or voice call.

    A new code replaces the purpose's old one and leaves other purposes'
    codes alone. ``client`` (the HTTP caller's address and captcha answer) makes the send
    pass the captcha rules; without one (CLI, host code) only budgets apply.
    Raises InvalidMobile, InvalidPurpose, InvalidChannel, CaptchaRequired,
    CaptchaWrong, BudgetExhausted, Cooldown, DailyLimit, or the Redis/Kombu
    error that made the service unavailable; in every case no cooldown and no code remain.
    """
    validate_mobile(mobile)
    purpose = validate_purpose(purpose)
    channel = validate_channel(channel)
    config = current_app.config
    ttl, interval = config["SMS_CODE_TTL"], config["SMS_SEND_INTERVAL"]
    store = get_store()
    fixed = fixed_numbers.fixed_code(mobile)
    if fixed is not None:
        store.put_fixed(mobile, purpose, code_digest(mobile, purpose, fixed), ttl)
        logger.info("fixed code stored for test number %s; no SMS sent", mask_mobile(mobile))
        return Issued(interval=interval, expires_in=ttl)

    admission = abuse.admit(mobile, client)
    if admission.reservation is None:
        raise Cooldown(admission.cooldown)
    reservation = admission.reservation
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    digest = code_digest(mobile, purpose, code)
    token = secrets.token_hex(8)
    claim = store.claim(
        mobile, purpose, token, digest, interval, ttl, config["SMS_DAILY_LIMIT"], reservation
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
        store.release(mobile, purpose, token, digest)
        abuse.give_back(reservation)
        raise
    try:
        enqueue_send(
            template_id(purpose),
            mobile,
            [seal(code, mobile, ttl), str(math.ceil(ttl / 60))],
            expires=ttl,
            purpose=purpose,
            channel=channel,
        )
    except Exception:
        logger.warning("could not enqueue the SMS to %s; undoing its cooldown", mask_mobile(mobile))
        try:
            store.release(mobile, purpose, token, digest)
            abuse.give_back(reservation)
        except Exception:
            logger.exception("could not undo the cooldown of %s", mask_mobile(mobile))
        raise
    logger.info("code issued to %s for %s by %s", mask_mobile(mobile), purpose, channel)
    return Issued(interval=interval, expires_in=ttl)


def verify_code(mobile: str, code: str, *, purpose: str | None = None) -> Verified:
    """Accept ``code`` for ``mobile`` and ``purpose`` once, or raise NoCode / WrongCode.

    The answer carries a verification token for the app's backend to redeem.
    """
    validate_mobile(mobile)
    purpose = validate_purpose(purpose)
    if not (
        isinstance(code, str) and len(code) == CODE_DIGITS and code.isascii() and code.isdigit()
    ):
        raise MalformedCode()
    store = get_store()
    stored = store.current_digest(mobile, purpose)
    if stored is None:
        raise NoCode()
    if _matches(stored, mobile, purpose, code):
        if store.consume(mobile, purpose, stored):
            logger.info("code verified for %s for %s", mask_mobile(mobile), purpose)
            if fixed_numbers.fixed_code(mobile) is None:
                abuse.count_verified()
            return Verified(
                verification_token=issue_token(mobile, purpose),
                expires_in=current_app.config["SMS_VERIFICATION_TOKEN_TTL"],
            )
        raise NoCode()
    max_attempts = current_app.config["SMS_VERIFY_MAX_ATTEMPTS"]
    left = store.wrong_guess(mobile, purpose, stored, max_attempts)
    if left < 0:
        raise NoCode()
    if left == 0:
        logger.info("code for %s burned after too many wrong guesses", mask_mobile(mobile))
    raise WrongCode(left)
