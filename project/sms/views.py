"""Routes that turn HTTP into calls of ``project.codes`` and back."""

from __future__ import annotations

from flask import Response, request

from ..abuse import BudgetExhausted, CaptchaRequired, CaptchaWrong, Client, fixed_numbers
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
from ..mobile import InvalidMobile, validate_mobile
from ..ratelimit import limiter, rate_limited, sms_per_ip, verify_per_ip
from . import bp


def _fields() -> dict:
    """The body's fields: a JSON object or form data (a dict too); {} for anything else."""
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # '[' * 100000: not a body, and not worth a 500
            return {}
        return body if isinstance(body, dict) else {}
    return request.form


def _submitted_code() -> object:
    return _fields().get("code")


def _send_field(name: str) -> str | None:
    """A field of the send: JSON key, form field or query parameter (GET has no body)."""
    value = _fields().get(name)
    if value is None:
        value = request.args.get(name)
    if value is None or isinstance(value, str):
        return value
    return str(value)  # a number typed as a JSON number is still an answer


def _client() -> Client:
    return Client(request.remote_addr, _send_field("captcha_id"), _send_field("captcha"))


def _send_input_error() -> Response | None:
    """The 400 a send gets for its input (``invalid_mobile``), or None.

    Checked before the per-IP limit (its ``exempt_when``): a mistyped number
    spends none of the limit and costs no Redis command at all.
    """
    try:
        validate_mobile(request.view_args["mobile"])
    except InvalidMobile:
        return error_response(400, "invalid_mobile")
    return None


@bp.route("/<mobile>", methods=["GET", "POST"])
@limiter.limit(
    sms_per_ip,
    methods=["GET", "POST"],
    # Test numbers (SMS_TEST_NUMBERS) are exempt too: no limit applies to them.
    exempt_when=lambda: _send_input_error() is not None or fixed_numbers.requested(),
)
def send_code(mobile: str) -> Response | dict:
    """Issue a code (获取验证码) and enqueue its SMS."""
    if request.method == "HEAD":  # Flask adds HEAD to GET routes; a probe must not send SMS
        response = error_response(405, "method_not_allowed")
        response.headers["Allow"] = "GET, POST"
        return response
    refused = _send_input_error()
    if refused is not None:
        return refused
    try:
        issued = issue_code(mobile, _client())
    except CaptchaRequired:
        return error_response(400, "captcha_required")
    except CaptchaWrong:
        return error_response(400, "captcha_wrong")
    except BudgetExhausted as exc:
        return rate_limited(exc.retry_after, exc.limit)
    except Cooldown as exc:
        response = error_response(429, "cooldown", interval=exc.retry_after)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except DailyLimit as exc:
        return rate_limited(exc.retry_after, exc.limit)
    return {"errmsg": "OK", "interval": issued.interval, "expires_in": issued.expires_in}


@bp.route("/<mobile>/verify", methods=["POST"])
@limiter.limit(verify_per_ip)
def verify(mobile: str) -> Response | dict:
    """Check a code once; JSON ``{"code": "..."}`` or form data."""
    try:
        verify_code(mobile, _submitted_code())
    except InvalidMobile:
        return error_response(400, "invalid_mobile")
    except MalformedCode:
        return error_response(400, "invalid_request")
    except WrongCode as exc:
        return error_response(400, "wrong_code", attempts_left=exc.attempts_left)
    except NoCode:
        return error_response(400, "no_code")
    return {"errmsg": "OK"}
