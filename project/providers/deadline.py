"""A wall-clock deadline for one provider call over ``requests``, on every pool.

The SDKs' own time-outs bound the connect and each socket read, not the
call: a vendor that trickles its answer a byte at a time would hold a send
for ever (and the threads pool ignores Celery's time limits). Past the
deadline the connection is closed, so the vendor sees the request abandoned,
and the call fails like a read time-out: ambiguous, retried on the same vendor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from requests.adapters import HTTPAdapter

_limit = threading.local()  # greenlet-local under gevent's patching


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Calls through a ``bound`` adapter in this block end within ``seconds``."""
    _limit.seconds = seconds
    try:
        yield
    finally:
        _limit.seconds = None


def read_before(response: requests.Response, deadline: float) -> bytes:
    """The whole body, or ``requests.Timeout`` once ``deadline`` passes."""
    raw = response.raw
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise requests.Timeout("the provider did not answer within SMS_PROVIDER_TIMEOUT")
        if sock is not None:
            sock.settimeout(left)
        chunk = raw.read1(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def bound(adapter: HTTPAdapter) -> HTTPAdapter:
    """``adapter``, its answers read against the deadline of the current ``within`` block.

    The connect and header waits are capped at the deadline too.
    """
    send = adapter.send

    def send_within(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        seconds = getattr(_limit, "seconds", None)
        if not seconds:
            return send(request, **kwargs)
        deadline = time.monotonic() + seconds
        timeout = kwargs.get("timeout") or seconds
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        timeout = (min(connect or seconds, seconds), min(read or seconds, seconds))
        response = send(request, **{**kwargs, "timeout": timeout, "stream": True})
        try:
            response._content = read_before(response, deadline)
        except BaseException:
            response.close()  # hang up: the provider sees the request abandoned
            raise
        return response

    adapter.send = send_within  # type: ignore[method-assign]
    return adapter
