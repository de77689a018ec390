"""Tencent Cloud SMS through the official ``tencentcloud-sdk-python-sms`` SDK (2021-01-11).

The SDK signs with TC3-HMAC-SHA256 and raises ``TencentCloudSDKException``
for every failure: the API's ``Response.Error.Code``, or its own
``ClientNetworkError`` (whose cause tells a refused connection from a
dropped one) and ``ServerNetworkError`` (an HTTP status other than 200).
A per-number refusal comes back inside ``SendStatusSet``. Its debug log
carries the request body (the code): that logger is kept quiet here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from requests.adapters import HTTPAdapter
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111.models import SendSmsRequest
from tencentcloud.sms.v20210111.sms_client import SmsClient

from ..base import SendResult, Verdict, never_connected
from ..deadline import bound, within
from .status import classify

NETWORK_ERROR = "ClientNetworkError"

_sdk_log = logging.getLogger("tencentcloud_sdk_common")
_sdk_log.setLevel(logging.WARNING)
_sdk_log.propagate = False


class TencentProvider:
    name = "tencent"

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        sign_name: str,
        templates: dict[str, str],
        default_purpose: str,
        region: str,
        scheme: str,
        host: str,
        timeout: float,
    ) -> None:
        # requests applies reqTimeout to the connect and to each read: half
        # each bounds the call (the SDK's retryer and region breaker stay off).
        profile = HttpProfile(protocol=scheme, endpoint=host, reqTimeout=timeout / 2)
        profile.keepAlive = True
        self._client = SmsClient(
            Credential(secret_id, secret_key), region, ClientProfile(httpProfile=profile)
        )
        # The SDK's one Session: its answers are read against our deadline.
        self._client.request.conn._session.mount(f"{scheme}://", bound(HTTPAdapter()))
        self._app_id, self._sign_name, self._templates = sdk_app_id, sign_name, templates
        self._default_purpose, self._timeout = default_purpose, timeout

    def send(
        self, tid: str, mobile: str, datas: Sequence[str], purpose: str | None = None
    ) -> SendResult:
        """Send the purpose's template with ``[code, minutes]`` to ``+86<mobile>``."""
        request = SendSmsRequest()
        request.PhoneNumberSet = [f"+86{mobile}"]
        request.SmsSdkAppId = self._app_id
        request.SignName = self._sign_name
        request.TemplateId = self._templates[purpose or self._default_purpose]
        request.TemplateParamSet = [str(d) for d in datas]
        try:
            with within(self._timeout):
                response = self._client.SendSms(request)
        except TencentCloudSDKException as exc:
            code = str(exc.code)
            verdict = classify(code)
            if code == NETWORK_ERROR:
                unsent = never_connected(exc)
                cause = "never reached Tencent" if unsent else "network error"
                verdict = Verdict(verdict.action, cause, failover=unsent)
            return SendResult(self.name, code, verdict, None, code)
        [status] = response.SendStatusSet or [None]
        if status is None:
            return SendResult(self.name, "EmptySendStatusSet", classify(""), None, "no status")
        return SendResult(
            self.name, str(status.Code), classify(str(status.Code)), status.SerialNo or None, ""
        )
