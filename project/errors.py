"""Every error answer is JSON with ``error`` and ``errmsg``: never HTML, never a traceback."""

from __future__ import annotations

import logging
import re

from amqp.exceptions import MessageNacked
from flask import Flask, Response, jsonify, request
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException

from .mobile import mask_mobiles_in

logger = logging.getLogger(__name__)

# MessageNacked: RabbitMQ refused to take a publish (a quorum queue without
# a majority, or full): the send is not queued, so the request must fail.
UNAVAILABLE = (
    RedisConnectionError,
    RedisTimeoutError,
    BrokerError,
    ConnectionError,
    TimeoutError,
    MessageNacked,
)


def error_response(status: int, error: str, errmsg: str, **extra: object) -> Response:
    """The one shape of an error answer."""
    response = jsonify(error=error, errmsg=errmsg, **extra)
    response.status_code = status
    return response


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def handle_http_error(exc: HTTPException) -> Response:
    response = error_response(exc.code or 500, _slug(exc.name), exc.name)
    if exc.code == 405 and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def handle_unavailable(exc: Exception) -> Response:
    logger.error(
        "service unavailable on %s %s: %s",
        request.method,
        mask_mobiles_in(request.path),
        type(exc).__name__,
    )
    return error_response(503, "unavailable", "service temporarily unavailable, retry shortly")


def handle_unexpected(exc: Exception) -> Response:
    # Flask's own log line would name the full path (and so the mobile).
    logger.exception("unhandled error on %s %s", request.method, mask_mobiles_in(request.path))
    return error_response(500, "internal_error", "internal server error")


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    for exc_type in UNAVAILABLE:
        app.register_error_handler(exc_type, handle_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
