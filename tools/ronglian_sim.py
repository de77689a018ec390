"""A local simulator of RongLian's TemplateSMS and VoiceVerify APIs, for tests and the benchmark.

It checks what RongLian checks: the account in the URL, ``sig`` = upper-case
MD5 of accId + token + timestamp, ``Authorization`` = base64 of
``accId:timestamp`` with the same timestamp (within 24 h), the app id, and
the JSON body. It answers success or a scripted failure, and records every
request it received. The real SDK talks to it through ``RONGLIAN_BASE_URL``.

Scripted answers (``script(...)``), used in order, then success again:
``{"status": "160042"}`` (HTTP 200 with that statusCode), ``{"http": 500}``,
``{"drop": True}`` (close without answering: the SDK reports 172001),
``{"hold": 3.0}`` (keep the request open that long, then succeed, unless
the client hung up meanwhile: then it is recorded as ``abandoned`` and, like
a real provider that never finished the request, sends nothing),
``{"trickle": 30.0}`` (answer success, but send the body a byte at a time
over that many seconds; abandoned likewise if the client hangs up).
``delay`` adds latency to every answer.

A ``VoiceVerify`` call (语音验证码) is checked and signed the same way, and
recorded with ``kind: "voice"``; ``push_voice_result`` then posts RongLian's
result notice for it to its ``respUrl``.

Run standalone: ``python -m tools.ronglian_sim --port 8883``; then
``GET /_sim/messages``, ``POST /_sim/script``, ``POST /_sim/reset`` and
``POST /_sim/voice-result`` (``{"index": -1, "state": "0", "url": ...}``: push
the notice of that recorded call) control it over HTTP.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape

import requests

PATH = re.compile(
    r"^/2013-12-26/Accounts/(?P<acc>[^/]+)/(?P<kind>SMS/TemplateSMS|Calls/VoiceVerify)"
    r"\?sig=(?P<sig>[^&]*)$"
)
KINDS = {"SMS/TemplateSMS": "sms", "Calls/VoiceVerify": "voice"}
SUCCESS = "000000"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True


class RongLianSimulator:
    def __init__(
        self,
        acc_id: str = "sim-acc",
        acc_token: str = "sim-token",
        app_id: str = "sim-app",
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self.acc_id, self.acc_token, self.app_id = acc_id, acc_token, app_id
        self._lock = threading.Condition()
        self._requests: list[dict[str, Any]] = []
        self._script: deque[dict[str, Any]] = deque()
        self.delay = 0.0
        self.holding = 0  # requests that arrived under a "hold" answer
        self.connections = 0  # TCP connections accepted
        self._server = _Server((host, port), self._handler())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> RongLianSimulator:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ----- what tests use -------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._script.clear()
            self.delay = 0.0
            self.holding = 0
            self.connections = 0

    def script(self, *answers: dict[str, Any]) -> None:
        with self._lock:
            self._script.extend(answers)

    def requests(self) -> list[dict[str, Any]]:
        """Every request received, in order, with the status it was answered."""
        with self._lock:
            return [dict(r) for r in self._requests]

    def delivered(self) -> list[dict[str, Any]]:
        """The requests answered with success: the SMS a phone would get."""
        return [r for r in self.requests() if r["status"] == SUCCESS]

    def wait_for(self, count: int, timeout: float = 15.0, delivered: bool = True) -> list[dict]:
        """Block until ``count`` requests (delivered ones by default) arrived."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                pool = [r for r in self._requests if not delivered or r["status"] == SUCCESS]
                if len(pool) >= count or time.monotonic() > deadline:
                    return [dict(r) for r in pool]
                self._lock.wait(0.05)

    def wait_for_hold(self, timeout: float = 15.0) -> None:
        """Block until a request is being held open."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not self.holding:
                if time.monotonic() > deadline:
                    raise TimeoutError("no request arrived to hold")
                self._lock.wait(0.05)

    # ----- the protocol ---------------------------------------------------
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

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real API offers
            # Headers and body go out in two writes: without this, Nagle's
            # algorithm and the client's delayed ACK add 40 ms to every answer.
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with sim._lock:
                    sim.connections += 1

            def log_message(self, *args: Any) -> None:  # quiet: no test noise
                pass

            def _reply(self, status: int, payload: dict[str, Any] | list) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _client_gone(self) -> bool:
                self.connection.setblocking(False)
                try:
                    return self.connection.recv(1, socket.MSG_PEEK) == b""
                except BlockingIOError:
                    return False
                except OSError:
                    return True
                finally:
                    self.connection.setblocking(True)

            def do_GET(self) -> None:
                if self.path == "/_sim/messages":
                    self._reply(200, sim.requests())
                else:
                    self._reply(404, {"statusCode": "404"})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/_sim/"):
                    return self._control(raw)
                with sim._lock:
                    action = sim._script.popleft() if sim._script else {}
                    delay = sim.delay
                if delay:
                    time.sleep(delay)
                if action.get("drop"):
                    sim._record(None, action, "dropped")
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                if action.get("hold"):
                    with sim._lock:
                        sim.holding += 1
                        sim._lock.notify_all()
                    time.sleep(action["hold"])
                    if self._client_gone():
                        sim._record(None, action, "abandoned")
                        return None
                match = PATH.match(self.path)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                if not match or not isinstance(body, dict):
                    sim._record(body, action, "172003")
                    return self._reply(400, {"statusCode": "400"})
                kind = KINDS[match["kind"]]
                body["kind"] = kind
                if "http" in action:
                    sim._record(body, action, str(action["http"]))
                    return self._reply(action["http"], {"statusCode": str(action["http"])})
                status = sim._check(
                    match["acc"], match["sig"], self.headers.get("Authorization", ""), body, kind
                )
                if status == SUCCESS and "status" in action:
                    status = str(action["status"])
                if status != SUCCESS:
                    sim._record(body, action, status)
                    return self._reply(200, {"statusCode": status, "statusMsg": "simulated"})
                created = datetime.now().strftime("%Y%m%d%H%M%S")
                if kind == "voice":
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
                if action.get("trickle"):
                    finished = self._trickle(answer, action["trickle"])
                    sim._record(body, action, SUCCESS if finished else "abandoned")
                    return None
                sim._record(body, action, status)
                return self._reply(200, answer)

            def _trickle(self, payload: dict[str, Any], seconds: float) -> bool:
                """Answer a byte at a time over ``seconds``; False if the client hung up."""
                with sim._lock:
                    sim.holding += 1
                    sim._lock.notify_all()
                data = json.dumps(payload).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json;charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    for i in range(len(data)):
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                        time.sleep(seconds / len(data))
                except OSError:
                    self.close_connection = True
                    return False
                return True

            def _control(self, raw: bytes) -> None:
                payload = json.loads(raw or b"{}")
                if self.path == "/_sim/reset":
                    sim.reset()
                elif self.path == "/_sim/script":
                    sim.script(*payload.get("answers", []))
                    if "delay" in payload:
                        sim.delay = float(payload["delay"])
                elif self.path == "/_sim/voice-result":
                    calls = [r for r in sim.requests() if r["kind"] == "voice" and "callSid" in r]
                    record = calls[int(payload.get("index", -1))]
                    state, url = str(payload.get("state", "0")), payload.get("url")
                    pushed = sim.push_voice_result(record, state, url)
                    return self._reply(200, {"statusCode": SUCCESS, "pushed": pushed.status_code})
                else:
                    return self._reply(404, {"statusCode": "404"})
                self._reply(200, {"statusCode": SUCCESS})

        return Handler

    def _record(self, body: dict[str, Any] | None, action: dict[str, Any], status: str) -> None:
        body = body or {}
        voice = ("verifyCode", "playTimes", "displayNum", "respUrl", "lang", "userData", "callSid")
        with self._lock:
            self._requests.append(
                {
                    "kind": body.get("kind", "sms"),
                    "to": body.get("to"),
                    "appId": body.get("appId"),
                    "templateId": body.get("templateId"),
                    "datas": body.get("datas"),
                    **{name: body[name] for name in voice if name in body},
                    "status": status,
                    "at": time.time(),
                }
            )
            self._lock.notify_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8883)
    parser.add_argument("--acc-id", default="sim-acc")
    parser.add_argument("--acc-token", default="sim-token")
    parser.add_argument("--app-id", default="sim-app")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    sim = RongLianSimulator(args.acc_id, args.acc_token, args.app_id, port=args.port)
    sim.delay = args.delay
    print(f"RongLian simulator on {sim.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        sim._server.serve_forever()


if __name__ == "__main__":
    main()
