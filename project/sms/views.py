"""Routes that turn HTTP into calls of ``project.codes`` and back."""

from __future__ import annotations

from flask import Response, request

from ..codes import (
    Cooldown,
    DailyLimit,
    MalformedCode,
    NoCode,
    WrongCode,
    issue_code,
    verify_code,
)
from ..errors import error_response
from ..mobile import InvalidMobile
from ..ratelimit import limiter, rate_limited, sms_per_ip, verify_per_ip
from . import bp


def _invalid_mobile() -> Response:
    return error_response(400, "invalid_mobile", "mobile must be 11 digits starting with 13-19")


def _submitted_code() -> object:
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # '[' * 100000: not a body, and not worth a 500
            return None
        return body.get("code") if isinstance(body, dict) else None
    return request.form.get("code")


@bp.route("/<mobile>", methods=["GET", "POST"])
@limiter.limit(
    sms_per_ip, methods=["GET", "POST"], error_message="too many requests from this address"
)
def send_code(mobile: str) -> Response | dict:
    """Issue a code (获取验证码) and enqueue its SMS."""
    if request.method == "HEAD":  # Flask adds HEAD to GET routes; a probe must not send SMS
        response = error_response(405, "method_not_allowed", "Method Not Allowed")
        response.headers["Allow"] = "GET, POST"
        return response
    try:
        issued = issue_code(mobile)
    except InvalidMobile:
        return _invalid_mobile()
    except Cooldown as exc:
        response = error_response(
            429,
            "cooldown",
            "a code was sent moments ago; wait before asking again",
            interval=exc.retry_after,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except DailyLimit as exc:
        return rate_limited(
            exc.retry_after, exc.limit, "daily limit of codes for this mobile reached"
        )
    return {"errmsg": "OK", "interval": issued.interval, "expires_in": issued.expires_in}


@bp.route("/<mobile>/verify", methods=["POST"])
@limiter.limit(verify_per_ip, error_message="too many verification attempts from this address")
def verify(mobile: str) -> Response | dict:
    """Check a code once; JSON ``{"code": "..."}`` or form data."""
    try:
        verify_code(mobile, _submitted_code())
    except InvalidMobile:
        return _invalid_mobile()
    except MalformedCode:
        return error_response(
            400, "invalid_request", 'send {"code": "<6 digits>"} as JSON or form data'
        )
    except WrongCode as exc:
        return error_response(
            400, "wrong_code", "the code is wrong", attempts_left=exc.attempts_left
        )
    except NoCode:
        return error_response(400, "no_code", "no valid code for this mobile; ask for a new one")
    return {"errmsg": "OK"}
