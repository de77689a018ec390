"""A local simulator of Alibaba Cloud SMS (dysmsapi 2017-05-25 ``SendSms``), for tests.

The official SDK (``alibabacloud-dysmsapi20170525`` 4.x on
``alibabacloud-tea-openapi`` 0.4) signs every call with Alibaba Cloud's V3
signature, ``ACS3-HMAC-SHA256``, RPC style: a POST to ``/`` with the
parameters in the query string, the ``x-acs-*`` headers, and
``Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,
SignedHeaders=<h1;h2...>,Signature=<hex>``. The simulator checks it as the
gateway does: the key id, the canonical request (method, path, sorted
percent-encoded query, the signed headers' values, the payload hash), the
HMAC-SHA256 with the secret, ``x-acs-content-sha256`` against the body,
``x-acs-date`` within 15 minutes, and a nonce never seen before. A failed
check is the gateway's HTTP 400/404 with its error code; a business error is
HTTP 200 with ``Code`` other than ``OK`` (as ``SendSms`` does).

Scripted answers (see ``tools.vendor_sim``), plus ``{"code": "isp.SYSTEM_ERROR"}``
(HTTP 200 with that ``Code``). Delivery reports go out in the "HTTP batch push"
(SmsReport) format: a JSON array of ``phone_number, send_time, report_time,
success, err_code, err_msg, sms_size, biz_id, out_id``.

Run standalone: ``python -m tools.aliyun_sim --port 8884``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit
from zoneinfo import ZoneInfo

from tools.vendor_sim import Reply, VendorSimulator, run_standalone

ALGORITHM = "ACS3-HMAC-SHA256"
AUTH = re.compile(
    r"^ACS3-HMAC-SHA256 Credential=(?P<ak>[^,]+),SignedHeaders=(?P<signed>[^,]+),"
    r"Signature=(?P<sig>[0-9a-f]{64})$"
)
BEIJING = ZoneInfo("Asia/Shanghai")
SKEW = timedelta(minutes=15)
REQUIRED_SIGNED = {"host", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"}


def canonical_request(
    method: str, path: str, query: dict[str, str], headers: Any, signed: list[str], payload: str
) -> str:
    """The V3 canonical request, built from what arrived (as the gateway rebuilds it)."""
    canonical_query = "&".join(f"{key}={quote(query[key], safe='~')}" for key in sorted(query))
    canonical_headers = "".join(f"{name}:{(headers.get(name) or '').strip()}\n" for name in signed)
    return (
        f"{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{';'.join(signed)}\n{payload}"
    )


def signature(secret: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return hmac.new(secret.encode(), f"{ALGORITHM}\n{digest}".encode(), hashlib.sha256).hexdigest()


class AliyunSimulator(VendorSimulator):
    SUCCESS = "OK"
    CONTENT_TYPE = "application/json;charset=utf-8"

    def __init__(
        self,
        access_key_id: str = "sim-ak",
        access_key_secret: str = "sim-secret",
        sign_name: str = "SimSign",
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self.access_key_id, self.access_key_secret = access_key_id, access_key_secret
        self.sign_name = sign_name
        self._nonces: dict[str, float] = {}
        super().__init__(port, host)

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._nonces.clear()

    def _error(self, http: int, code: str, message: str, record: dict) -> Reply:
        payload = {"RequestId": str(uuid.uuid4()).upper(), "Code": code, "Message": message}
        if http == 200:
            return Reply(200, payload, {**record, "status": code}, self.CONTENT_TYPE)
        payload["HostId"] = "dysmsapi.aliyuncs.com"
        return Reply(http, payload, {**record, "status": code}, self.CONTENT_TYPE)

    def error_reply(self, http_status: int, path: str, raw: bytes) -> Reply:
        code = "ServiceUnavailable" if http_status == 503 else "InternalError"
        return self._error(http_status, code, "simulated", {})

    def _check_signature(
        self, path: str, query: dict[str, str], headers: Any, raw: bytes
    ) -> Reply | None:
        match = AUTH.match(headers.get("Authorization") or "")
        if not match:
            return self._error(400, "IncompleteSignature", "bad Authorization header", {})
        if match["ak"] != self.access_key_id:
            return self._error(
                404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.", {}
            )
        signed = match["signed"].split(";")
        present = {name.lower() for name in headers if name.lower().startswith("x-acs-")}
        if signed != sorted(signed) or not (REQUIRED_SIGNED | present) <= set(signed):
            return self._error(400, "IncompleteSignature", "headers not signed", {})
        payload = hashlib.sha256(raw).hexdigest()
        if headers.get("x-acs-content-sha256") != payload:
            return self._error(400, "SignatureDoesNotMatch", "payload hash mismatch", {})
        try:
            stamp = datetime.strptime(headers.get("x-acs-date") or "", "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return self._error(400, "InvalidTimeStamp.Format", "bad x-acs-date", {})
        if abs(datetime.now(UTC) - stamp.replace(tzinfo=UTC)) > SKEW:
            return self._error(
                400, "InvalidTimeStamp.Expired", "Specified time stamp has expired.", {}
            )
        expected = signature(
            self.access_key_secret, canonical_request("POST", path, query, headers, signed, payload)
        )
        if not hmac.compare_digest(expected, match["sig"]):
            return self._error(400, "SignatureDoesNotMatch", "signature does not match", {})
        nonce = headers.get("x-acs-signature-nonce") or ""
        with self._lock:
            if nonce in self._nonces:
                return self._error(
                    400, "SignatureNonceUsed", "Specified signature nonce was used already.", {}
                )
            self._nonces[nonce] = time.time()
        return None

    def answer(self, method: str, path: str, headers: Any, raw: bytes, action: dict) -> Reply:
        url = urlsplit(path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        refused = self._check_signature(url.path, query, headers, raw)
        if refused:
            return refused
        if (headers.get("x-acs-action"), headers.get("x-acs-version")) != ("SendSms", "2017-05-25"):
            return self._error(404, "InvalidAction.NotFound", "unknown action or version", {})
        record = {
            "phone": query.get("PhoneNumbers"),
            "sign": query.get("SignName"),
            "template": query.get("TemplateCode"),
            "params": None,
            "signed": True,
        }
        try:
            params = json.loads(query.get("TemplateParam") or "{}")
        except ValueError:
            return self._error(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法", record)
        record["params"] = params
        if not re.fullmatch(r"1[3-9][0-9]{9}", record["phone"] or ""):
            return self._error(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号", record)
        if record["sign"] != self.sign_name:
            return self._error(200, "isv.SMS_SIGNATURE_ILLEGAL", "签名不合法", record)
        if not re.fullmatch(r"SMS_[0-9]+", record["template"] or ""):
            return self._error(200, "isv.SMS_TEMPLATE_ILLEGAL", "模板不合法", record)
        if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
            return self._error(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法", record)
        if "code" not in params:
            return self._error(200, "isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量", record)
        if "code" in action:
            return self._error(200, str(action["code"]), "simulated", record)
        biz_id = f"{secrets.randbelow(10**18):018d}^0"
        payload = {
            "RequestId": str(uuid.uuid4()).upper(),
            "Code": "OK",
            "Message": "OK",
            "BizId": biz_id,
        }
        return Reply(200, payload, {**record, "status": "OK", "biz_id": biz_id}, self.CONTENT_TYPE)

    def report_for(self, record: dict[str, Any], success: bool) -> dict[str, Any]:
        now = datetime.now(BEIJING)
        sent = datetime.fromtimestamp(record["at"], BEIJING)
        return {
            "phone_number": record["phone"],
            "send_time": sent.strftime("%Y-%m-%d %H:%M:%S"),
            "report_time": now.strftime("%Y-%m-%d %H:%M:%S"),
            "success": success,
            "err_code": "DELIVERED" if success else "MK:0001",
            "err_msg": "用户接收成功" if success else "用户关机",
            "sms_size": "1",
            "biz_id": record["biz_id"],
            "out_id": "",
        }


def main() -> None:
    run_standalone(
        AliyunSimulator,
        __doc__,
        "Aliyun SMS",
        8884,
        access_key_id="sim-ak",
        access_key_secret="sim-secret",
        sign_name="SimSign",
    )


if __name__ == "__main__":
    main()
