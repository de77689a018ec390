"""Codes travel through the broker sealed to their mobile, not in clear.

A queued send must carry its code, and a broker is read by more eyes than
the code store (Flower, RabbitMQ's management UI, ``celery inspect``, a Redis
``SCAN``). The web seals the code with AES-GCM under a key derived from
``SECRET_KEY``, with the mobile as associated data and an expiry inside:
a sealed value copied into a send for another mobile, or replayed after the
code's lifetime, does not open. The worker opens it just before the send;
keys in ``SECRET_KEY_FALLBACKS`` still open what the previous key sealed, so
the key can be rotated with sends in the queue. Values typed by hand
(``send_sms.delay(tid, mobile, ["123456", "5"])``) are not sealed and are sent
as given.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import os
import struct
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

PREFIX = "sealed:"
_NONCE = 12
_EXPIRY = struct.Struct(">Q")  # unix seconds, authenticated with the code


class SealBroken(Exception):
    """A sealed value does not open for this mobile, has expired, or the key differs."""


@functools.lru_cache(maxsize=16)
def _aead_for(secret: str) -> AESGCM:
    """Derived once per key, not once per code."""
    return AESGCM(hashlib.sha256(b"sms-seal-v2\0" + secret.encode()).digest())


def _keys() -> list[str]:
    config = current_app.config
    return [config["SECRET_KEY"], *config.get("SECRET_KEY_FALLBACKS", ())]


def seal(value: str, mobile: str, ttl: int) -> str:
    """``value`` sealed for ``mobile``, opening for ``ttl`` seconds from now."""
    nonce = os.urandom(_NONCE)
    # Rounded up: the seal never lapses before the send's own expiry (Celery's
    # ``expires``, exact), whose check gives the clearer "expires before a retry".
    plain = _EXPIRY.pack(math.ceil(time.time()) + ttl) + value.encode()
    sealed = _aead_for(_keys()[0]).encrypt(nonce, plain, mobile.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(value: str, mobile: str) -> str:
    """The clear value of a sealed one; anything else is returned unchanged."""
    if not value.startswith(PREFIX):
        return value
    try:
        raw = base64.urlsafe_b64decode(value[len(PREFIX) :].encode())
    except ValueError:
        raise SealBroken("sealed code is malformed") from None
    nonce, sealed = raw[:_NONCE], raw[_NONCE:]
    for key in _keys():
        try:
            plain = _aead_for(key).decrypt(nonce, sealed, mobile.encode())
        except (InvalidTag, ValueError):
            continue
        (expires,) = _EXPIRY.unpack(plain[: _EXPIRY.size])
        if time.time() > expires:
            raise SealBroken("sealed code has expired")
        return plain[_EXPIRY.size :].decode()
    raise SealBroken(
        "sealed code does not open for this mobile: sealed for another one, "
        "or SECRET_KEY differs between web and worker"
    )
