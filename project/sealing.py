"""Codes travel through the broker sealed, not in clear.

A queued send must carry its code, and a broker is read by more eyes than
the code store (Flower, RabbitMQ's management UI, ``celery inspect``, a Redis
``SCAN``). The web seals the code with a key derived from ``SECRET_KEY``;
the worker, which shares the setting, opens it just before the send. Values
typed by hand (``send_sms.delay(tid, mobile, ["123456", "5"])``) are not
sealed and are sent as given.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

PREFIX = "sealed:"


class SealBroken(Exception):
    """A sealed value cannot be opened: web and worker disagree on SECRET_KEY."""


def _fernet() -> Fernet:
    secret = current_app.config["SECRET_KEY"].encode()
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"sms-seal\0" + secret).digest()))


def seal(value: str) -> str:
    return PREFIX + _fernet().encrypt(value.encode()).decode()


def unseal(value: str) -> str:
    """The clear value of a sealed one; anything else is returned unchanged."""
    if not value.startswith(PREFIX):
        return value
    try:
        return _fernet().decrypt(value[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise SealBroken(
            "sealed code cannot be opened: is SECRET_KEY the same on web and worker?"
        ) from None
