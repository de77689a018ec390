"""Image captchas (图形验证码) from the ``captcha`` package, kept only as an HMAC.

The answer never reaches Redis in clear: Redis holds HMAC(SECRET_KEY, id and
answer) under the id, with its own TTL, and the first send that presents
the id takes it away (GETDEL), right or wrong, so one solved image buys one
attempt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from functools import cache

from captcha.image import ImageCaptcha
from flask import current_app

from ..redis_store import get_abuse_store

# No 0/O, 1/I/L: a person must be able to read it back.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 4


class CaptchaRequired(Exception):
    """This send needs a captcha and none came with it."""


class CaptchaWrong(Exception):
    """The captcha presented is wrong, expired or already used."""


@dataclass(frozen=True)
class Captcha:
    captcha_id: str
    image: str  # data:image/png;base64,...
    expires_in: int


# One drawer per process (it loads its fonts once), drawing one image at a
# time: FreeType faces are not meant to be shared by threads drawing at once.
_drawing = threading.Lock()


@cache
def _drawer() -> ImageCaptcha:
    return ImageCaptcha(width=160, height=60)


def _png(text: str) -> bytes:
    with _drawing:
        return _drawer().generate(text).getvalue()


def answer_digest(captcha_id: str, answer: str, key: str | None = None) -> str:
    """What Redis holds: HMAC of the id and the answer (case-folded), keyed by SECRET_KEY."""
    secret = (key or current_app.config["SECRET_KEY"]).encode()
    message = f"captcha:{captcha_id}:{answer.strip().upper()}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def new_captcha() -> Captcha:
    """Draw a fresh captcha and remember its answer's digest for SMS_CAPTCHA_TTL seconds."""
    config = current_app.config
    answer = config["SMS_CAPTCHA_TEST_ANSWER"] or "".join(
        secrets.choice(ALPHABET) for _ in range(LENGTH)
    )
    captcha_id = secrets.token_urlsafe(16)
    png = _png(answer)
    ttl = config["SMS_CAPTCHA_TTL"]
    get_abuse_store().put_captcha(captcha_id, answer_digest(captcha_id, answer), ttl)
    image = "data:image/png;base64," + base64.b64encode(png).decode()
    return Captcha(captcha_id=captcha_id, image=image, expires_in=ttl)


def check(captcha_id: str, answer: str, stored: str | None) -> None:
    """Raise CaptchaWrong unless ``answer`` matches the digest taken from Redis.

    Under SECRET_KEY or any of SECRET_KEY_FALLBACKS: a captcha drawn by a
    process still on the old key passes during a rolling key rotation.
    """
    if stored is None:
        raise CaptchaWrong()
    config = current_app.config
    keys = [config["SECRET_KEY"], *config["SECRET_KEY_FALLBACKS"]]
    if not any(  # a list, not a generator: every key is tried, the time says nothing
        [hmac.compare_digest(stored, answer_digest(captcha_id, answer, key)) for key in keys]
    ):
        raise CaptchaWrong()
