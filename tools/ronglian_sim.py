"""A local simulator of RongLian's TemplateSMS and VoiceVerify APIs, for tests and the benchmark.

It checks what RongLian checks: the account in the URL, ``sig`` = upper-case
MD5 of accId + token + timestamp, ``Authorization`` = base64 of
``accId:timestamp`` with the same timestamp (within 24 h), the app id, and
the JSON body. It answers success or a scripted failure, and records every
request it received. The real SDK talks to it through ``RONGLIAN_BASE_URL``.

Scripted answers (see ``tools.vendor_sim``: ``http``, ``drop`` (the SDK
reports 172001), ``hold``, ``trickle``), plus ``{"status": "160042"}`` (HTTP
200 with that statusCode). ``delay`` adds latency to every answer.

A ``VoiceVerify`` call (语音验证码) is checked and signed the same way, and
recorded with ``kind: "voice"``; ``push_voice_result`` then posts RongLian's
result notice for it to its ``respUrl``.

Run standalone: ``python -m tools.ronglian_sim --port 8883``; then
``GET /_sim/messages``, ``POST /_sim/script``, ``POST /_sim/reset`` and
``POST /_sim/voice-result`` (``{"index": -1, "state": "0", "url": ...}``: push
the notice of that recorded call) control it over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

import requests

from tools.vendor_sim import Reply, VendorSimulator, run_standalone

PATH = re.compile(
    r"^/2013-12-26/Accounts/(?P<acc>[^/]+)/(?P<kind>SMS/TemplateSMS|Calls/VoiceVerify)"
    r"\?sig=(?P<sig>[^&]*)$"
)
KINDS = {"SMS/TemplateSMS": "sms", "Calls/VoiceVerify": "voice"}
SUCCESS = "000000"
VOICE = ("verifyCode", "playTimes", "displayNum", "respUrl", "lang", "userData", "callSid")


class RongLianSimulator(VendorSimulator):
    SUCCESS = SUCCESS
    CONTENT_TYPE = "application/json;charset=utf-8"

    def __init__(
        self,
        acc_id: str = "sim-acc",
        acc_token: str = "sim-token",
        app_id: str = "sim-app",
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self.acc_id, self.acc_token, self.app_id = acc_id, acc_token, app_id
        super().__init__(port, host)

    def push_voice_result(
        self, record: dict[str, Any], state: str = "0", url: str | None = None
    ) -> requests.Response:
        """POST RongLian's voice-verify result notice (XML, text/plain) for a recorded call.

        ``state``: 0 answered, 1 not answered, 2 the call failed. To its
        ``respUrl`` unless ``url`` is given.
        """
        fields = {
            "action": "VoiceCode",
            "number": record["to"],
            "callSid": record["callSid"],
            "state": state,
            "duration": "12" if state == "0" else "0",
            "userData": record.get("userData") or "",
        }
        body = "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in fields.items())
        notice = f'<?xml version="1.0" encoding="UTF-8"?><Request>{body}</Request>'
        return requests.post(
            url or record["respUrl"],
            data=notice.encode(),
            headers={"Content-Type": "text/plain"},
            timeout=10,
        )

    # ----- the vendor's protocol ------------------------------------------
    def answer(self, method: str, path: str, headers: Any, raw: bytes, action: dict) -> Reply:
        parsed = self._parse(path, raw)
        if isinstance(parsed, Reply):
            return parsed
        match, body = parsed
        status = self._check(
            match["acc"], match["sig"], headers.get("Authorization", ""), body, body["kind"]
        )
        if status == SUCCESS and "status" in action:
            status = str(action["status"])
        if status != SUCCESS:
            return self._reply(200, {"statusCode": status, "statusMsg": "simulated"}, body, status)
        created = datetime.now().strftime("%Y%m%d%H%M%S")
        if body["kind"] == "voice":
            body["callSid"] = uuid.uuid4().hex
            answer = {
                "statusCode": SUCCESS,
                "VoiceVerify": {"callSid": body["callSid"], "dateCreated": created},
            }
        else:
            answer = {
                "statusCode": SUCCESS,
                "templateSMS": {"dateCreated": created, "smsMessageSid": uuid.uuid4().hex},
            }
        return self._reply(200, answer, body, SUCCESS)

    def error_reply(self, http_status: int, path: str, raw: bytes) -> Reply:
        parsed = self._parse(path, raw)
        if isinstance(parsed, Reply):
            return parsed
        status = str(http_status)
        return self._reply(http_status, {"statusCode": status}, parsed[1], status)

    def control(self, path: str, payload: dict[str, Any]) -> Any:
        if path == "/_sim/voice-result":
            calls = [r for r in self.requests() if r["kind"] == "voice" and "callSid" in r]
            record = calls[int(payload.get("index", -1))]
            state, url = str(payload.get("state", "0")), payload.get("url")
            pushed = self.push_voice_result(record, state, url)
            return {"statusCode": SUCCESS, "pushed": pushed.status_code}
        if path == "/_sim/report":
            return None  # no SMS status report push simulated for RongLian: 404
        return super().control(path, payload)

    def _parse(self, path: str, raw: bytes) -> tuple[re.Match, dict[str, Any]] | Reply:
        """The URL's parts and the JSON body (with its ``kind``), or the 400 RongLian gives."""
        match = PATH.match(path)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not match or not isinstance(body, dict):
            return self._reply(400, {"statusCode": "400"}, {}, "172003")
        body["kind"] = KINDS[match["kind"]]
        return match, body

    def _reply(
        self, http: int, payload: dict[str, Any], body: dict[str, Any], status: str
    ) -> Reply:
        record = {
            "kind": body.get("kind", "sms"),
            "to": body.get("to"),
            "appId": body.get("appId"),
            "templateId": body.get("templateId"),
            "datas": body.get("datas"),
            **{name: body[name] for name in VOICE if name in body},
            "status": status,
        }
        return Reply(http, payload, record, self.CONTENT_TYPE)

    def _record(self, record: dict[str, Any]) -> None:
        """A dropped or abandoned request is recorded with the same fields, empty."""
        empty = {"kind": "sms", "to": None, "appId": None, "templateId": None, "datas": None}
        super()._record({**empty, **record})

    def _check(self, acc: str, sig: str, auth: str, body: dict[str, Any], kind: str) -> str:
        if acc != self.acc_id:
            return "111141"  # 主账户不存在
        try:
            auth_acc, stamp = base64.b64decode(auth, validate=True).decode().split(":", 1)
            signed_at = datetime.strptime(stamp, "%Y%m%d%H%M%S")
        except ValueError:
            return "111104"  # Authorization 错误
        if auth_acc != acc:
            return "111104"
        if abs(datetime.now() - signed_at) > timedelta(hours=24):
            return "111106"  # 时间戳过期
        expected = hashlib.md5(f"{acc}{self.acc_token}{stamp}".encode()).hexdigest().upper()
        if sig != expected:
            return "111109"  # Sig 校验失败
        if body.get("appId") != self.app_id:
            return "111181"  # 应用不存在
        to = body.get("to")
        if not isinstance(to, str) or not re.fullmatch(r"1[3-9][0-9]{9}", to):
            return "160042"  # 号码格式有误
        if kind == "voice":
            code = body.get("verifyCode")
            if not isinstance(code, str) or not re.fullmatch(r"[0-9A-Za-z]{4,8}", code):
                return "111310"  # 验证码格式错误
            if str(body.get("playTimes", "")) not in {"1", "2", "3"}:
                return "111311"  # 播放次数错误
            return SUCCESS
        if not str(body.get("templateId", "")).isdigit():
            return "112318"  # 模板ID须为数字
        datas = body.get("datas")
        if not isinstance(datas, list):
            return "112308"  # data 参数为空
        return SUCCESS


def main() -> None:
    run_standalone(
        RongLianSimulator,
        __doc__,
        "RongLian",
        8883,
        acc_id="sim-acc",
        acc_token="sim-token",
        app_id="sim-app",
    )


if __name__ == "__main__":
    main()
