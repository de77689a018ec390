"""Alibaba Cloud SMS ``Code``s, sorted into what the send task does with them.

Sources: Alibaba Cloud's SMS "API error codes" page
(https://help.aliyun.com/zh/sms/developer-reference/api-error-codes, English
https://www.alibabacloud.com/help/doc-detail/101346.htm) for the ``isv.*`` and
``isp.*`` codes of ``SendSms``; the OpenAPI gateway's common error codes
(https://api.aliyun.com/document/Dysmsapi/2017-05-25/errorCode) for
signature, key and throttling errors. ``isp.SYSTEM_ERROR``: "please retry".
"""

from __future__ import annotations

from ..base import SENT, Action, Verdict

SUCCESS = "OK"
ACCOUNT = "account, key or signing problem: check the ALIYUN_* settings"
TEMPLATE = "sign name or template problem: check ALIYUN_SIGN_NAME and ALIYUN_TEMPLATES"

_TABLE: list[tuple[set[str], Verdict]] = [
    # Transient: Alibaba Cloud's own failures; the page says to retry.
    (
        {"isp.SYSTEM_ERROR", "isp.GATEWAY_ERROR", "isp.UNKNOWN", "InternalError", "NetworkError"},
        Verdict(Action.RETRY, "provider system error"),
    ),
    ({"ServiceUnavailable"}, Verdict(Action.RETRY, "provider unavailable", failover=True)),
    # Throttled: the API's own rate limit on our account, not on the number.
    (
        {"Throttling", "Throttling.User", "Throttling.Api"},
        Verdict(Action.RETRY, "provider throttling"),
    ),
    # Provider limits for this number: a retry (or another vendor) only
    # bypasses the anti-bombing limit.
    (
        {
            "isv.BUSINESS_LIMIT_CONTROL",
            "BUSINESS_LIMIT_CONTROL_MINUTE",
            "isv.BUSINESS_LIMIT_HOUR",
            "isv.BUSINESS_LIMIT_DAY",
            "BUSINESS_LIMIT_CONTROL_PHONE",
        },
        Verdict(Action.GIVE_UP, "provider rate limit for this number"),
    ),
    # Permanent: the number.
    (
        {
            "isv.MOBILE_NUMBER_ILLEGAL",
            "isv.PHONE_NUMBER_ILLEGAL",
            "isv.MOBILE_COUNT_OVER_LIMIT",
            "isv.DENY_IP_RANGE",
            "isv.NOT_SUPPORTED_COUNTRY",
        },
        Verdict(Action.GIVE_UP, "bad mobile number"),
    ),
    # Permanent: the code's content (blacklisted words, length).
    (
        {"isv.BLACK_KEY_CONTROL_LIMIT", "isv.PARAM_LENGTH_LIMIT", "isv.PARAM_NOT_SUPPORT_URL"},
        Verdict(Action.GIVE_UP, "template data problem"),
    ),
    # Permanent, and Aliyun refused the request: our sign or template with
    # this vendor; another vendor has its own.
    (
        {
            "isv.SMS_TEMPLATE_ILLEGAL",
            "isv.SMS_SIGNATURE_ILLEGAL",
            "isv.SMS_SIGN_ILLEGAL",
            "isv.SMS_SIGNATURE_SCENE_ILLEGAL",
            "isv.TEMPLATE_MISSING_PARAMETERS",
            "isv.TEMPLATE_PARAMS_ILLEGAL",
            "isv.INVALID_JSON_PARAM",
            "isv.INVALID_PARAMETERS",
            "isv.EXTEND_CODE_ERROR",
        },
        Verdict(Action.GIVE_UP, TEMPLATE, failover=True),
    ),
    # Permanent, refused at the gate: account, key, signature, permissions.
    (
        {
            "isv.OUT_OF_SERVICE",
            "isv.DAY_LIMIT_CONTROL",
            "isv.AMOUNT_NOT_ENOUGH",
            "isv.ACCOUNT_NOT_EXISTS",
            "isv.ACCOUNT_ABNORMAL",
            "isv.PRODUCT_UN_SUBSCRIPT",
            "isv.PRODUCT_UNSUBSCRIBE",
            "isp.RAM_PERMISSION_DENY",
            "isv.RAM_CHECK_FAILED",
            "InvalidAccessKeyId.NotFound",
            "InvalidAccessKeyId.Inactive",
            "SignatureDoesNotMatch",
            "IncompleteSignature",
            "InvalidTimeStamp.Expired",
            "InvalidTimeStamp.Format",
            "SignatureNonceUsed",
            "Forbidden.RAM",
            "Forbidden.AccessKeyDisabled",
            "InvalidAction.NotFound",
        },
        Verdict(Action.GIVE_UP, ACCOUNT, failover=True),
    ),
]

_BY_CODE: dict[str, Verdict] = {code: verdict for codes, verdict in _TABLE for code in codes}


def classify(code: str, http_status: int | None = None) -> Verdict:
    """What to do after Aliyun answered ``code`` (with ``http_status`` for gateway errors)."""
    if code == SUCCESS:
        return SENT
    if code in _BY_CODE:
        return _BY_CODE[code]
    if http_status == 503:
        return Verdict(Action.RETRY, "HTTP 503: provider unavailable", failover=True)
    if (http_status and http_status >= 500) or http_status == 429:
        return Verdict(Action.RETRY, f"HTTP {http_status}")
    if http_status in {401, 403}:
        return Verdict(Action.GIVE_UP, ACCOUNT, failover=True)
    # Unknown: retry a little rather than lose the SMS on a code we never saw.
    return Verdict(Action.RETRY, "unknown status", max_retries=2)
