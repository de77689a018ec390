"""A local simulator of Tencent Cloud SMS (API 2021-01-11 ``SendSms``), for tests.

The official SDK (``tencentcloud-sdk-python-sms``) POSTs JSON to ``/`` with
``X-TC-Action``, ``X-TC-Version``, ``X-TC-Timestamp``, ``X-TC-Region`` and
``Authorization: TC3-HMAC-SHA256 Credential=<SecretId>/<date>/sms/tc3_request,
SignedHeaders=content-type;host, Signature=<hex>``. The simulator checks it
as Tencent Cloud's gateway does: the SecretId, the timestamp within five
minutes, the credential date (UTC) matching it, the canonical request
(method, path, query, the signed headers lower-cased, the body's SHA-256),
and the HMAC chain ``TC3<key>`` -> date -> ``sms`` -> ``tc3_request``.
Gateway and common errors come back as ``{"Response": {"Error": {...}}}``;
per-number results in ``SendStatusSet`` (``Code`` ``Ok`` or an error code),
as ``SendSms`` does.

Scripted answers (see ``tools.vendor_sim``), plus ``{"error": "InternalError.Timeout"}``
(a ``Response.Error``) and ``{"status": "LimitExceeded.PhoneNumberDailyLimit"}``
(that per-number ``Code``). Delivery reports go out in the status-callback
format: a JSON array of ``user_receive_time, nationcode, mobile,
report_status, errmsg, description, sid`` (``sid`` is the ``SerialNo``).

Run standalone: ``python -m tools.tencent_sim --port 8885``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from tools.vendor_sim import Reply, VendorSimulator, run_standalone

AUTH = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<sid>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[^/]+)"
    r"/tc3_request, SignedHeaders=(?P<signed>[^,]+), Signature=(?P<sig>[0-9a-f]{64})$"
)
BEIJING = ZoneInfo("Asia/Shanghai")
SKEW = 300
SERVICE = "sms"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def tc3_signature(
    secret_key: str, headers: Any, signed: list[str], path: str, query: str, raw: bytes
) -> str:
    """TC3-HMAC-SHA256 of a request, rebuilt from what arrived."""
    canonical_headers = "".join(
        f"{name}:{(headers.get(name) or '').strip().lower()}\n" for name in signed
    )
    canonical = "\n".join(
        ["POST", path, query, canonical_headers, ";".join(signed), hashlib.sha256(raw).hexdigest()]
    )
    timestamp = headers.get("X-TC-Timestamp") or "0"
    date = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{SERVICE}/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), SERVICE), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class TencentSimulator(VendorSimulator):
    SUCCESS = "Ok"
    CONTENT_TYPE = "application/json"  # exactly: the SDK reads errors only from this type

    def __init__(
        self,
        secret_id: str = "sim-secret-id",
        secret_key: str = "sim-secret-key",
        sdk_app_id: str = "1400000000",
        sign_name: str = "SimSign",
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self.secret_id, self.secret_key = secret_id, secret_key
        self.sdk_app_id, self.sign_name = sdk_app_id, sign_name
        super().__init__(port, host)

    def _error(self, code: str, message: str, record: dict, http: int = 200) -> Reply:
        payload = {
            "Response": {
                "Error": {"Code": code, "Message": message},
                "RequestId": str(uuid.uuid4()),
            }
        }
        return Reply(http, payload, {**record, "status": code}, self.CONTENT_TYPE)

    def error_reply(self, http_status: int, path: str, raw: bytes) -> Reply:
        return self._error("InternalError", "simulated", {}, http=http_status)

    def _check_signature(self, path: str, query: str, headers: Any, raw: bytes) -> Reply | None:
        match = AUTH.match(headers.get("Authorization") or "")
        if not match:
            return self._error("AuthFailure.InvalidAuthorization", "bad Authorization", {})
        if match["sid"] != self.secret_id:
            return self._error("AuthFailure.SecretIdNotFound", "SecretId not found", {})
        try:
            timestamp = int(headers.get("X-TC-Timestamp") or "")
        except ValueError:
            return self._error("MissingParameter", "X-TC-Timestamp", {})
        if abs(time.time() - timestamp) > SKEW:
            return self._error("AuthFailure.SignatureExpire", "signature expired", {})
        signed = match["signed"].split(";")
        if match["service"] != SERVICE or not {"content-type", "host"} <= set(signed):
            return self._error("AuthFailure.SignatureFailure", "bad credential scope", {})
        if match["date"] != datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d"):
            return self._error("AuthFailure.SignatureFailure", "credential date", {})
        expected = tc3_signature(self.secret_key, headers, signed, path, query, raw)
        if not hmac.compare_digest(expected, match["sig"]):
            return self._error("AuthFailure.SignatureFailure", "signature does not match", {})
        return None

    def answer(self, method: str, path: str, headers: Any, raw: bytes, action: dict) -> Reply:
        url = urlsplit(path)
        refused = self._check_signature(url.path, url.query, headers, raw)
        if refused:
            return refused
        if (headers.get("X-TC-Action"), headers.get("X-TC-Version")) != ("SendSms", "2021-01-11"):
            return self._error("InvalidAction", "unknown action or version", {})
        try:
            body = json.loads(raw)
        except ValueError:
            return self._error("InvalidParameter", "body is not JSON", {})
        numbers = body.get("PhoneNumberSet") or []
        record = {
            "phone": numbers[0] if len(numbers) == 1 else numbers,
            "app_id": body.get("SmsSdkAppId"),
            "sign": body.get("SignName"),
            "template": body.get("TemplateId"),
            "params": body.get("TemplateParamSet"),
            "region": headers.get("X-TC-Region"),
            "signed": True,
        }
        if "error" in action:
            return self._error(str(action["error"]), "simulated", record)
        if record["app_id"] != self.sdk_app_id:
            return self._error("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId", record)
        if record["sign"] != self.sign_name:
            return self._error("FailedOperation.SignatureIncorrectOrUnapproved", "sign", record)
        if not str(record["template"] or "").isdigit():
            return self._error("FailedOperation.TemplateIncorrectOrUnapproved", "template", record)
        params = record["params"]
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            return self._error("InvalidParameterValue.TemplateParameterFormatError", "", record)
        if len(numbers) != 1:
            return self._error("InvalidParameterValue.IncorrectPhoneNumber", "one number", record)
        number = numbers[0]
        if not isinstance(number, str) or not re.fullmatch(r"\+861[3-9][0-9]{9}", number):
            code = "InvalidParameterValue.IncorrectPhoneNumber"
        else:
            code = str(action.get("status", self.SUCCESS))
        serial = f"2640:{secrets.randbelow(10**28):028d}" if code == self.SUCCESS else ""
        status = {
            "SerialNo": serial,
            "PhoneNumber": number,
            "Fee": 1 if serial else 0,
            "SessionContext": body.get("SessionContext", ""),
            "Code": code,
            "Message": "send success" if serial else "simulated",
            "IsoCode": "CN",
        }
        payload = {"Response": {"SendStatusSet": [status], "RequestId": str(uuid.uuid4())}}
        return Reply(
            200, payload, {**record, "status": code, "serial_no": serial}, self.CONTENT_TYPE
        )

    def report_for(self, record: dict[str, Any], success: bool) -> dict[str, Any]:
        return {
            "user_receive_time": datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "nationcode": "86",
            "mobile": str(record["phone"]).removeprefix("+86"),
            "report_status": "SUCCESS" if success else "FAIL",
            "errmsg": "DELIVRD" if success else "UNDELIV",
            "description": "用户短信送达成功" if success else "用户短信未送达",
            "sid": record["serial_no"],
        }


def main() -> None:
    run_standalone(
        TencentSimulator,
        __doc__,
        "Tencent Cloud SMS",
        8885,
        secret_id="sim-secret-id",
        secret_key="sim-secret-key",
        sdk_app_id="1400000000",
        sign_name="SimSign",
    )


if __name__ == "__main__":
    main()
