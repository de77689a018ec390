"""Flask-Limiter against abuse: per-IP limits on sending and verifying.

The limiter counts in the same Redis as the codes (sharing its connection
pool; under Sentinel the elected master, never a replica, so a count is
never read stale; on a Redis Cluster its own cluster client) and fails
closed: when Redis cannot be reached a limit check raises and the request
answers 503, so the send endpoint never becomes unlimited.
The per-mobile daily cap is counted inside the atomic claim of a code
(``redis_store.CLAIM``) and answered with the same 429 (``rate_limited``).

Like every Flask extension object, ``limiter`` holds the state of the app
it was last initialised with: one app per process, as under gunicorn.
"""

from __future__ import annotations

import ipaddress
import time

from flask import Flask, Response, current_app
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

from . import metrics
from .errors import error_response
from .redis_store import get_redis


def client_key() -> str:
    """The bucket a client is counted in: its IPv4 address, or its IPv6 /64."""
    return address_key(get_remote_address())


def address_key(address: str) -> str:
    """An IPv4 address as it is, an IPv6 one as its /64.

    One IPv6 subscriber usually holds a whole /64; counting per address would
    give them 2^64 buckets.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


limiter = Limiter(key_func=client_key)


def sms_per_ip() -> str:
    return current_app.config["RATELIMIT_SMS_PER_IP"]


def verify_per_ip() -> str:
    return current_app.config["RATELIMIT_VERIFY_PER_IP"]


def rate_limited(wait: int, limit: int) -> Response:
    """The contract's 429: JSON with ``interval``, ``Retry-After`` and ``X-RateLimit-*``."""
    response = error_response(429, "rate_limited", interval=wait)
    response.headers["Retry-After"] = str(wait)
    response.headers["X-RateLimit-Limit"] = str(limit)
    response.headers["X-RateLimit-Remaining"] = "0"
    response.headers["X-RateLimit-Reset"] = str(int(time.time()) + wait)
    return response


def handle_rate_limited(exc: RateLimitExceeded) -> Response:
    """A Flask-Limiter refusal, answered for the longest breached wait."""
    breached = [lim for lim in limiter.current_limits if lim.breached] or [limiter.current_limit]
    reset_at = max(lim.reset_at for lim in breached if lim is not None)
    # limits rounds the reset up to the next whole second already.
    wait = max(1, int(reset_at - time.time()))
    metrics.count(metrics.RATE_LIMIT_REFUSALS)
    return rate_limited(wait, exc.limit.limit.amount)


def storage(app: Flask) -> tuple[str, dict]:
    """The limits storage URI and options for the app's Redis deployment."""
    config = app.config
    timeout = config["REDIS_SOCKET_TIMEOUT"]
    timeouts = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    if config["REDIS_CLUSTER_NODES"]:
        nodes = ",".join(f"{h}:{p}" for h, p in config["REDIS_CLUSTER_NODES"])
        return f"redis+cluster://{nodes}", timeouts
    if config["REDIS_SENTINELS"]:
        nodes = ",".join(f"{h}:{p}" for h, p in config["REDIS_SENTINELS"])
        uri = f"redis+sentinel://{nodes}/{config['REDIS_SENTINEL_MASTER']}"
        return uri, {
            "use_replicas": False,
            "sentinel_kwargs": timeouts,
            "db": config["REDIS_DB"],
            **timeouts,
        }
    return config["REDIS_URL"], {"connection_pool": get_redis(app).connection_pool}


def init_app(app: Flask) -> None:
    proxies = app.config["TRUSTED_PROXY_COUNT"]
    if proxies:
        # Only then is X-Forwarded-For believed: otherwise any client could
        # pick the bucket it is counted in.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    uri, options = storage(app)
    app.config.update(
        RATELIMIT_STORAGE_URI=uri,
        RATELIMIT_STORAGE_OPTIONS=options,
        RATELIMIT_KEY_PREFIX="sms-limit",
        RATELIMIT_SWALLOW_ERRORS=False,
        RATELIMIT_HEADERS_ENABLED=False,  # set on 429s by handle_rate_limited
    )
    # Flask-Limiter merges each init's storage options into the last ones:
    # start afresh, or a Redis connection pool would reach a cluster storage.
    limiter._storage_options = {}
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, handle_rate_limited)
