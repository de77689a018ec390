"""Every error answer is JSON with ``error`` and ``errmsg``: never HTML, never a traceback."""

from __future__ import annotations

import logging
import re

from amqp.exceptions import MessageNacked
from flask import Flask, Response, abort, current_app, jsonify, request
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import (
    ExecAbortError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException

from .messages import message
from .mobile import mask_mobiles_in
from .redis_store import reset_after

logger = logging.getLogger(__name__)

# What Redis and the broker may raise; ``unavailable`` tells "not now" from a bug.
UNAVAILABLE = (RedisError, BrokerError, MessageNacked, ConnectionError, TimeoutError)
# Redis answering instead of dropping the connection, but meaning "not now":
# out of memory, a demoted master, a failed snapshot (MISCONF), a busy script,
# a replica without its master, a cluster resharding.
_NOT_NOW = (
    RedisConnectionError,  # includes LOADING (BusyLoadingError)
    RedisTimeoutError,
    OutOfMemoryError,
    ReadOnlyError,
    ExecAbortError,  # a transaction refused because of one of these
    TryAgainError,
    BrokerError,
    MessageNacked,  # RabbitMQ refused to confirm a publish
    ConnectionError,
    TimeoutError,
)
_NOT_NOW_REPLIES = ("MISCONF", "BUSY", "NOREPLICAS", "MASTERDOWN", "CLUSTERDOWN", "OOM", "READONLY")


def unavailable(exc: BaseException) -> bool:
    """True when Redis or the broker cannot take the request now: 503 on the web, retry later."""
    if isinstance(exc, _NOT_NOW):
        return True
    return isinstance(exc, ResponseError) and str(exc).lstrip().startswith(_NOT_NOW_REPLIES)


def error_response(status: int, error: str, **extra: object) -> Response:
    """The one shape of an error answer; ``errmsg`` is ``error``'s text in the request's language.

    ``extra`` goes into the answer and fills the text's placeholders
    (``interval``, ``attempts_left``).
    """
    return _json_error(status, error, message(error, **extra), extra)


def _json_error(status: int, error: str, errmsg: str, extra: dict[str, object]) -> Response:
    response = jsonify(error=error, errmsg=errmsg, **extra)
    response.status_code = status
    return response


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def handle_http_error(exc: HTTPException) -> Response:
    word = _slug(exc.name)
    response = _json_error(exc.code or 500, word, message(word, fallback=exc.name), {})
    if exc.code == 405 and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def handle_unavailable(exc: Exception) -> Response:
    if not unavailable(exc):
        return handle_unexpected(exc)
    reset_after(exc)
    logger.error(
        "service unavailable on %s %s: %s",
        request.method,
        mask_mobiles_in(request.path),
        type(exc).__name__,
    )
    return error_response(503, "unavailable")


def handle_unexpected(exc: Exception) -> Response:
    # Flask's own log line would name the full path (and so the mobile).
    logger.exception("unhandled error on %s %s", request.method, mask_mobiles_in(request.path))
    return error_response(500, "internal_error")


def refuse_oversized() -> None:
    """413 before the view runs, even on routes that never read the body.

    A view may declare a larger ``body_limit`` of its own (vendors' report batches).
    """
    length = request.content_length
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, "body_limit", None) or current_app.config["MAX_CONTENT_LENGTH"]
    if length is not None and length > limit:
        abort(413)


def no_store(response: Response) -> Response:
    """API answers name a mobile's state: no proxy or browser may keep them."""
    if response.mimetype == "application/json":
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.before_request(refuse_oversized)
    app.after_request(no_store)
    app.register_error_handler(HTTPException, handle_http_error)
    for exc_type in UNAVAILABLE:
        app.register_error_handler(exc_type, handle_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
