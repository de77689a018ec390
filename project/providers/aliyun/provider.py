"""Alibaba Cloud SMS through the official ``alibabacloud-dysmsapi20170525`` SDK.

The SDK signs with ``ACS3-HMAC-SHA256`` and raises for every failure:
``ClientException``/``ServerException``/``ThrottlingException`` carry the
gateway's code and HTTP status; ``UnretryableException`` wraps a network
error, whose cause tells a refused connection (never reached Aliyun) from a
dropped or timed-out one (may have been accepted). The SDK's own retries stay
off (none configured): retries are the task's, with its back-off and budget.

``SendSms`` is an RPC-style call: the number and the code travel in the query
string, which urllib3 logs at DEBUG; its pool logger is held at INFO here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_dysmsapi20170525.models import SendSmsRequest
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.core import DaraCore
from darabonba.runtime import RuntimeOptions

from ..base import SendResult, Verdict, never_connected
from ..deadline import bound, within
from .status import classify

NETWORK_ERROR = "NetworkError"

logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)


def _bound_adapters() -> None:
    """Every HTTP adapter the SDK creates (one per endpoint) reads against our deadline."""
    make = DaraCore.get_adapter
    DaraCore.get_adapter = staticmethod(lambda *args, **kwargs: bound(make(*args, **kwargs)))


_bound_adapters()


class AliyunProvider:
    name = "aliyun"

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        templates: dict[str, str],
        default_purpose: str,
        scheme: str,
        host: str,
        timeout: float,
        minutes_variable: str | None = None,
    ) -> None:
        connect = min(2.0, timeout / 3)
        self._client = Client(
            Config(
                access_key_id=access_key_id,
                access_key_secret=access_key_secret,
                endpoint=host,
                protocol=scheme,
                # Milliseconds; together they bound one call (the SDK does not retry).
                connect_timeout=int(connect * 1000),
                read_timeout=int((timeout - connect) * 1000),
            )
        )
        self._runtime = RuntimeOptions()
        self._sign_name, self._templates = sign_name, templates
        self._default_purpose, self._minutes = default_purpose, minutes_variable
        self._timeout = timeout

    def send(
        self, tid: str, mobile: str, datas: Sequence[str], purpose: str | None = None
    ) -> SendResult:
        """Send the purpose's template with ``{"code": ...}`` (and the minutes variable)."""
        code, minutes = [*datas, "", ""][:2]
        params = {"code": str(code)}
        if self._minutes:
            params[self._minutes] = str(minutes)
        request = SendSmsRequest(
            phone_numbers=mobile,
            sign_name=self._sign_name,
            template_code=self._templates[purpose or self._default_purpose],
            template_param=json.dumps(params, separators=(",", ":")),
        )
        try:
            with within(self._timeout):
                body = self._client.send_sms_with_options(request, self._runtime).body
        except AlibabaCloudException as exc:
            code = str(exc.code or exc.status_code)
            return SendResult(self.name, code, classify(code, exc.status_code), None, code)
        except Exception as exc:  # the SDK wraps network errors in several types
            unsent = never_connected(exc)
            cause = "never reached Aliyun" if unsent else "network error"
            verdict = Verdict(classify(NETWORK_ERROR).action, cause, failover=unsent)
            return SendResult(self.name, NETWORK_ERROR, verdict, None, type(exc).__name__)
        status = str(body.code)
        return SendResult(
            self.name, status, classify(status), body.biz_id or None, body.message or ""
        )
