"""Flask-Limiter against abuse: per-IP limits and a per-mobile daily cap.

The limiter counts in the same Redis as the codes (sharing its connection
pool) and fails closed: when Redis cannot be reached a limit check raises
and the request answers 503, so the send endpoint never becomes unlimited.

Like every Flask extension object, ``limiter`` holds the state of the app
it was last initialised with: one app per process, as under gunicorn.
"""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

from . import metrics
from .errors import error_response
from .redis_store import get_redis

limiter = Limiter(key_func=get_remote_address)


def sms_per_ip() -> str:
    return current_app.config["RATELIMIT_SMS_PER_IP"]


def verify_per_ip() -> str:
    return current_app.config["RATELIMIT_VERIFY_PER_IP"]


def daily_per_mobile() -> str:
    return f"{current_app.config['SMS_DAILY_LIMIT']} per day"


def mobile_in_path() -> str:
    return (request.view_args or {}).get("mobile", "")


def issued(response: Response) -> bool:
    """Only a code that was really issued counts against the daily cap."""
    return response.status_code == 200


def handle_rate_limited(exc: RateLimitExceeded) -> Response:
    """The contract's 429: JSON, ``interval`` and ``Retry-After`` for the longest breached wait."""
    breached = [lim for lim in limiter.current_limits if lim.breached] or [limiter.current_limit]
    reset_at = max(lim.reset_at for lim in breached if lim is not None)
    # limits rounds the reset up to the next whole second already.
    wait = max(1, int(reset_at - time.time()))
    metrics.count(metrics.RATE_LIMIT_REFUSALS)
    response = error_response(429, "rate_limited", exc.description, interval=wait)
    response.headers["Retry-After"] = str(wait)
    response.headers["X-RateLimit-Limit"] = str(exc.limit.limit.amount)
    response.headers["X-RateLimit-Remaining"] = "0"
    response.headers["X-RateLimit-Reset"] = str(int(reset_at))
    return response


def init_app(app: Flask) -> None:
    proxies = app.config["TRUSTED_PROXY_COUNT"]
    if proxies:
        # Only then is X-Forwarded-For believed: otherwise any client could
        # pick the bucket it is counted in.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    app.config.update(
        RATELIMIT_STORAGE_URI=app.config["REDIS_URL"],
        RATELIMIT_STORAGE_OPTIONS={"connection_pool": get_redis(app).connection_pool},
        RATELIMIT_KEY_PREFIX="sms-limit",
        RATELIMIT_SWALLOW_ERRORS=False,
        RATELIMIT_HEADERS_ENABLED=False,  # set on 429s by handle_rate_limited
    )
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, handle_rate_limited)
