"""``GET /``: a small page to try the service, and the headers every answer carries.

Plain HTML, CSS and JavaScript from ``project/static``: no build step, no
CDN. The Content-Security-Policy forbids inline script and every other
origin, so the page is also the reference for a strict front end; images
may also be ``data:`` URLs, the form in which ``/captcha`` hands them out.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app

bp = Blueprint("page", __name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@bp.get("/")
def index() -> Response:
    return current_app.send_static_file("index.html")


def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(security_headers)
