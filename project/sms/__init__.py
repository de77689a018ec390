"""The HTTP face of the code service: ``/users/sms/<mobile>``."""

from flask import Blueprint

bp = Blueprint("sms", __name__, url_prefix="/users/sms")

from . import views  # noqa: E402,F401  (registers the routes on bp)
