"""The vendors' callbacks: ``POST /callbacks/<vendor>/sms-report?token=`` (delivery
reports) and ``POST /callbacks/ronglian/voice?token=`` (a voice code call's result).

The token (``SMS_CALLBACK_TOKEN``) is compared in constant time before the
body is read; none configured and the routes do not exist (404). Each vendor
gets the answer its format expects, also for a report of an unknown message
(so that it does not push it again forever).
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, current_app, jsonify, request

from ..errors import error_response
from ..providers import REPORT_FORMATS
from ..providers import ronglian_voice as ronglian_voice_format
from ..providers.reports import BadReport
from .reports import record_reports

bp = Blueprint("callbacks", __name__)

# A vendor pushes reports in batches, far above the API's own body limit.
REPORT_BODY_LIMIT = 4 * 1024 * 1024


def _token_refused() -> Response | None:
    """403 unless ``?token=`` is SMS_CALLBACK_TOKEN (constant time); 404 when none is set."""
    expected = current_app.config["SMS_CALLBACK_TOKEN"]
    if not expected:
        abort(404)
    given = request.args.get("token", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return error_response(403, "forbidden")
    return None


@bp.post("/callbacks/<vendor>/sms-report")
def sms_report(vendor: str) -> Response:
    report_format = REPORT_FORMATS.get(vendor)
    if report_format is None:
        abort(404)
    refused = _token_refused()
    if refused is not None:
        return refused
    request.max_content_length = REPORT_BODY_LIMIT
    try:
        reports = report_format.parse(request.get_json(force=True, silent=True))
    except BadReport:
        return error_response(400, "invalid_request")
    record_reports(vendor, reports)
    return jsonify(report_format.ANSWER)


sms_report.body_limit = REPORT_BODY_LIMIT  # type: ignore[attr-defined]


@bp.post("/callbacks/ronglian/voice")
def ronglian_voice() -> Response:
    """RongLian's result of a voice code call: answered (delivered) or not."""
    refused = _token_refused()
    if refused is not None:
        return refused
    try:
        notice, as_xml = ronglian_voice_format.read(request.get_data())
        reports = ronglian_voice_format.parse(notice)
    except BadReport:
        return error_response(400, "invalid_request")
    record_reports("ronglian", reports)
    if as_xml:
        return Response(ronglian_voice_format.XML_ANSWER, content_type="application/xml")
    return jsonify(ronglian_voice_format.JSON_ANSWER)
