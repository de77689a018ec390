"""Verification tokens: "this mobile proved itself for this purpose at this time".

A successful verify hands one to the client, which passes it to the app's
backend; the backend redeems it here (``POST /users/sms/verifications/redeem``
or ``redeem_verification``), once. A browser saying "it verified" is worth
nothing; a token signed with ``SECRET_KEY`` is. Keys of
``SECRET_KEY_FALLBACKS`` still open tokens signed before a rotation. The
token is opaque to its holders and never logged.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from .mobile import InvalidMobile, mask_mobile, validate_mobile
from .redis_store import get_store

# One use of SECRET_KEY among several: a token cannot pass for anything else.
SALT = "sms-verification-token"

logger = logging.getLogger(__name__)


class InvalidToken(Exception):
    """Forged, altered, expired, or signed by another deployment."""


class TokenUsed(Exception):
    """Redeemed before: a token vouches once."""


@dataclass(frozen=True)
class Redeemed:
    mobile: str
    purpose: str
    verified_at: int  # unix seconds


def _serializer() -> URLSafeTimedSerializer:
    config = current_app.config
    # itsdangerous signs with the last key and accepts any of them.
    keys = [*reversed(config["SECRET_KEY_FALLBACKS"]), config["SECRET_KEY"]]
    return URLSafeTimedSerializer(keys, salt=SALT)


def issue_token(mobile: str, purpose: str) -> str:
    """A token for a mobile just verified for ``purpose``; its id makes each one unique."""
    return _serializer().dumps({"m": mobile, "p": purpose, "id": secrets.token_urlsafe(12)})


def redeem_verification(token: str) -> Redeemed:
    """Open ``token`` and use it up; raise InvalidToken or TokenUsed.

    The Redis mark lives as long as the token could still be presented, so
    a used token stays used until it would have expired anyway.
    """
    ttl = current_app.config["SMS_VERIFICATION_TOKEN_TTL"]
    if not isinstance(token, str) or not token or len(token) > 1024:
        raise InvalidToken()
    try:
        payload, signed_at = _serializer().loads(token, max_age=ttl, return_timestamp=True)
        mobile, purpose, token_id = payload["m"], payload["p"], payload["id"]
        validate_mobile(mobile)
    except (BadSignature, InvalidMobile, KeyError, TypeError):
        raise InvalidToken() from None
    if purpose not in current_app.config["SMS_PURPOSES"] or not isinstance(token_id, str):
        raise InvalidToken()
    verified_at = int(signed_at.timestamp())
    lifetime = max(1, verified_at + ttl - int(time.time()) + 1)
    if not get_store().redeem(mobile, token_id, lifetime):
        raise TokenUsed()
    logger.info("verification of %s for %s redeemed", mask_mobile(mobile), purpose)
    return Redeemed(mobile=mobile, purpose=purpose, verified_at=verified_at)
