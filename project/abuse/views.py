"""``GET /captcha``: a fresh image captcha for the next send."""

from __future__ import annotations

from flask import Blueprint, current_app

from ..ratelimit import limiter
from .captcha import new_captcha

bp = Blueprint("captcha", __name__)


def captcha_per_ip() -> str:
    return current_app.config["RATELIMIT_CAPTCHA_PER_IP"]


@bp.get("/captcha")
@limiter.limit(captcha_per_ip, error_message="too many captchas from this address")
def captcha() -> dict:
    """Drawing an image costs a few milliseconds of CPU: limited per address."""
    drawn = new_captcha()
    return {
        "errmsg": "OK",
        "captcha_id": drawn.captcha_id,
        "image": drawn.image,
        "expires_in": drawn.expires_in,
    }
