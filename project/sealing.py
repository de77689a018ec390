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
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

PREFIX = "sealed:"


class SealBroken(Exception):
    """A sealed value cannot be opened: web and worker disagree on SECRET_KEY."""


def _fernet() -> Fernet:
    return _fernet_for(current_app.config["SECRET_KEY"])


@functools.lru_cache(maxsize=8)
def _fernet_for(secret: str) -> Fernet:
    """Derived once per key, not once per code."""
    key = hashlib.sha256(b"sms-seal\0" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


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
