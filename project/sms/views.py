"""Routes that turn HTTP into calls of ``project.codes`` and back."""

from __future__ import annotations

import hmac

from flask import Response, abort, current_app, request

from ..abuse import BudgetExhausted, CaptchaRequired, CaptchaWrong, Client, fixed_numbers
from ..codes import (
    Cooldown,
    DailyLimit,
    InvalidChannel,
    InvalidPurpose,
    MalformedCode,
    NoCode,
    WrongCode,
    issue_code,
    validate_channel,
    validate_purpose,
    verify_code,
)
from ..errors import error_response
from ..mobile import InvalidMobile, validate_mobile
from ..ratelimit import limiter, rate_limited, sms_per_ip, verify_per_ip
from ..verification_tokens import InvalidToken, TokenUsed, redeem_verification
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
    """The 400 a send gets for its input (mobile, purpose, channel), or None.

    Checked before the per-IP limit (its ``exempt_when``): a mistyped number
    or purpose spends none of the limit and costs no Redis command at all.
    """
    try:
        validate_mobile(request.view_args["mobile"])
    except InvalidMobile:
        return error_response(400, "invalid_mobile")
    try:
        validate_purpose(_send_field("purpose"))
    except InvalidPurpose:
        return error_response(400, "invalid_purpose")
    try:
        validate_channel(_send_field("channel"))
    except InvalidChannel:
        return error_response(400, "invalid_request")
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
        issued = issue_code(
            mobile,
            _client(),
            purpose=_send_field("purpose"),
            channel=_send_field("channel") or "sms",
        )
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
    """Check a code once; JSON ``{"code": "..."}`` or form data (``purpose`` too)."""
    try:
        verified = verify_code(mobile, _submitted_code(), purpose=_send_field("purpose"))
    except InvalidMobile:
        return error_response(400, "invalid_mobile")
    except InvalidPurpose:
        return error_response(400, "invalid_purpose")
    except MalformedCode:
        return error_response(400, "invalid_request")
    except WrongCode as exc:
        return error_response(400, "wrong_code", attempts_left=exc.attempts_left)
    except NoCode:
        return error_response(400, "no_code")
    return {
        "errmsg": "OK",
        "verification_token": verified.verification_token,
        "expires_in": verified.expires_in,
    }


def _api_key_given() -> bool:
    """``Authorization: Bearer <one of SMS_API_KEYS>``, every key compared in constant time."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    found = False
    for key in current_app.config["SMS_API_KEYS"]:
        found |= hmac.compare_digest(given.strip().encode(), key.encode())
    return found


@bp.route("/verifications/redeem", methods=["POST"])
# An authenticated backend is not a client to throttle; a guesser of keys is.
@limiter.limit(verify_per_ip, exempt_when=_api_key_given)
def redeem() -> Response | dict:
    """A backend redeems a verification token once (server to server, SMS_API_KEYS)."""
    if not current_app.config["SMS_API_KEYS"]:
        abort(404)
    if not _api_key_given():
        response = error_response(401, "unauthorized")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    token = _fields().get("verification_token")
    if not isinstance(token, str) or not token:
        return error_response(400, "invalid_request")
    try:
        redeemed = redeem_verification(token)
    except InvalidToken:
        return error_response(400, "invalid_token")
    except TokenUsed:
        return error_response(400, "token_used")
    return {
        "errmsg": "OK",
        "mobile": redeemed.mobile,
        "purpose": redeemed.purpose,
        "verified_at": redeemed.verified_at,
    }
