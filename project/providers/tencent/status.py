"""Tencent Cloud SMS error codes, sorted into what the send task does with them.

Sources: the ``SendSms`` (2021-01-11) page's error-code table
(https://cloud.tencent.com/document/product/382/55981) and the SMS API's
error codes (https://cloud.tencent.com/document/api/382/52075), including
the common ``AuthFailure.*`` codes; ``ClientNetworkError`` and
``ServerNetworkError`` are the SDK's own (``tencentcloud.common``).
Per-number results (``SendStatusSet[].Code``) and whole-request errors
(``Response.Error.Code``) share one table.
"""

from __future__ import annotations

from ..base import SENT, Action, Verdict

SUCCESS = "Ok"
ACCOUNT = "account, key or signing problem: check the TENCENT_* settings"
TEMPLATE = "sign name or template problem: check TENCENT_SIGN_NAME and TENCENT_TEMPLATES"

_TABLE: list[tuple[set[str], Verdict]] = [
    # Transient: Tencent's own failures and time-outs ("please retry").
    (
        {
            "InternalError",
            "InternalError.Timeout",
            "InternalError.SendAndRecvFail",
            "InternalError.OtherError",
            "InternalError.JsonParseFail",
            "FailedOperation.FailResolvePacket",
            "ServerNetworkError",
            "ClientNetworkError",
        },
        Verdict(Action.RETRY, "provider system error or time-out"),
    ),
    # Throttled: the API's rate limit on our account, not on the number.
    ({"RequestLimitExceeded"}, Verdict(Action.RETRY, "provider throttling")),
    # Provider limits for this number.
    (
        {
            "LimitExceeded.PhoneNumberThirtySecondLimit",
            "LimitExceeded.PhoneNumberOneHourLimit",
            "LimitExceeded.PhoneNumberDailyLimit",
            "LimitExceeded.PhoneNumberSameContentDailyLimit",
            "LimitExceeded.DeliveryFrequencyLimit",
            "LimitExceeded.PhoneNumberCountLimit",
        },
        Verdict(Action.GIVE_UP, "provider rate limit for this number"),
    ),
    # Permanent: the number.
    (
        {
            "InvalidParameterValue.IncorrectPhoneNumber",
            "FailedOperation.PhoneNumberInBlacklist",
            "FailedOperation.PhoneNumberParseFail",
            "FailedOperation.PhoneNumberOnBlacklist",
            "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
            "UnsupportedOperation.UnsupportedRegion",
        },
        Verdict(Action.GIVE_UP, "bad mobile number"),
    ),
    # Permanent: the code's content.
    (
        {
            "FailedOperation.ContainSensitiveWord",
            "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
            "InvalidParameterValue.TemplateParameterLengthLimit",
        },
        Verdict(Action.GIVE_UP, "template data problem"),
    ),
    # Permanent, refused by Tencent: our sign or template with this vendor.
    (
        {
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "FailedOperation.SignatureIncorrectOrUnapproved",
            "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
            "FailedOperation.MissingTemplateToModify",
            "InvalidParameterValue.TemplateParameterFormatError",
            "InvalidParameterValue.MissingSignatureList",
            "MissingParameter.EmptyPhoneNumberSet",
        },
        Verdict(Action.GIVE_UP, TEMPLATE, failover=True),
    ),
    # Permanent, refused at the gate: account, key, signature, balance, app.
    (
        {
            "AuthFailure",
            "AuthFailure.InvalidAuthorization",
            "AuthFailure.InvalidSecretId",
            "AuthFailure.SecretIdNotFound",
            "AuthFailure.SignatureExpire",
            "AuthFailure.SignatureFailure",
            "AuthFailure.TokenFailure",
            "AuthFailure.UnauthorizedOperation",
            "InvalidParameterValue.SdkAppIdNotExist",
            "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
            "UnauthorizedOperation.RequestIpNotInWhitelist",
            "UnauthorizedOperation.RequestPermissionDeny",
            "UnauthorizedOperation.ServiceSuspendDueToArrears",
            "FailedOperation.InsufficientBalanceInSmsPackage",
            "LimitExceeded.AppDailyLimit",
            "LimitExceeded.AppGlobalDailyLimit",
            "LimitExceeded.AppMainlandChinaDailyLimit",
            "InternalError.RequestTimeException",
            "InvalidAction",
        },
        Verdict(Action.GIVE_UP, ACCOUNT, failover=True),
    ),
]

_BY_CODE: dict[str, Verdict] = {code: verdict for codes, verdict in _TABLE for code in codes}


def classify(code: str) -> Verdict:
    """What to do after Tencent answered ``code``."""
    if code == SUCCESS:
        return SENT
    if code in _BY_CODE:
        return _BY_CODE[code]
    return Verdict(Action.RETRY, "unknown status", max_retries=2)
