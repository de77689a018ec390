"""What every local vendor simulator shares: a threaded HTTP server with scripted answers.

A simulator subclass knows its vendor's protocol (``answer``: check the
signature as the vendor does, then reply in the vendor's format) and its
delivery-report push format (``report_for``). This base holds the rest:

Scripted answers (``script(...)``), used in order, then success again:
``{"http": 503}`` (that HTTP status with the vendor's error body),
``{"drop": True}`` (close without answering), ``{"hold": 3.0}`` (keep the
request open that long, then answer, unless the client hung up meanwhile:
then it is recorded as ``abandoned`` and, like a real vendor that never
finished the request, sends nothing), ``{"trickle": 30.0}`` (answer, but send
the body a byte at a time over that long; ``abandoned`` if the client hangs
up first). Each vendor adds its own error-code keys. ``delay`` adds latency
to every answer. Every request is recorded; ``connections`` counts the TCP
connections accepted (keep-alive reuse shows as fewer).

Over HTTP (standalone use): ``GET /_sim/messages``, ``POST /_sim/script``
(``{"answers": [...], "delay": s}``), ``POST /_sim/reset`` and
``POST /_sim/report`` (``{"url": ..., "index": -1, "success": true}``: push
the delivery report of that recorded request to ``url``); a subclass adds its
own in ``control``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True


class Reply:
    """What the vendor answers: HTTP status, JSON payload, and what to record."""

    def __init__(
        self, status: int, payload: Any, record: dict[str, Any], content_type: str
    ) -> None:
        self.status, self.payload, self.record, self.content_type = (
            status,
            payload,
            record,
            content_type,
        )


class VendorSimulator:
    """The machinery; subclasses define ``SUCCESS``, ``answer`` and ``report_for``."""

    SUCCESS = "OK"
    CONTENT_TYPE = "application/json"

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
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

    def start(self) -> VendorSimulator:
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
        return [r for r in self.requests() if r["status"] == self.SUCCESS]

    def wait_for(self, count: int, timeout: float = 15.0, delivered: bool = True) -> list[dict]:
        """Block until ``count`` requests (delivered ones by default) arrived."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                pool = [r for r in self._requests if not delivered or r["status"] == self.SUCCESS]
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

    def push_report(
        self, callback_url: str, record: dict[str, Any], success: bool = True
    ) -> requests.Response:
        """POST the delivery report of one recorded send to ``callback_url``, as the vendor does."""
        return requests.post(callback_url, json=[self.report_for(record, success)], timeout=10)

    # ----- the vendor's protocol (subclasses) -----------------------------
    def answer(self, method: str, path: str, headers: Any, raw: bytes, action: dict) -> Reply:
        raise NotImplementedError

    def error_reply(self, http_status: int, path: str, raw: bytes) -> Reply:
        raise NotImplementedError

    def report_for(self, record: dict[str, Any], success: bool) -> dict[str, Any]:
        raise NotImplementedError

    def control(self, path: str, payload: dict[str, Any]) -> Any:
        """Answer a ``POST /_sim/...`` control request; None for an unknown one (404)."""
        if path == "/_sim/reset":
            self.reset()
        elif path == "/_sim/script":
            self.script(*payload.get("answers", []))
            if "delay" in payload:
                self.delay = float(payload["delay"])
        elif path == "/_sim/report":
            record = self.requests()[int(payload.get("index", -1))]
            self.push_report(payload["url"], record, bool(payload.get("success", True)))
        else:
            return None
        return {"ok": True}

    # ----- the server -----------------------------------------------------
    def _record(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._requests.append({**record, "at": time.time()})
            self._lock.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs offer
            # Headers and body go out in two writes: without this, Nagle's
            # algorithm and the client's delayed ACK add 40 ms to every answer.
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with sim._lock:
                    sim.connections += 1

            def log_message(self, *args: Any) -> None:  # quiet: no test noise
                pass

            def _reply(self, status: int, payload: Any, content_type: str) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
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
                    self._reply(200, sim.requests(), "application/json")
                else:
                    self._reply(404, {"error": "not found"}, "application/json")

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
                    sim._record({"status": "dropped"})
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                if action.get("hold"):
                    with sim._lock:
                        sim.holding += 1
                        sim._lock.notify_all()
                    time.sleep(action["hold"])
                    if self._client_gone():
                        sim._record({"status": "abandoned"})
                        return None
                if "http" in action:
                    reply = sim.error_reply(int(action["http"]), self.path, raw)
                else:
                    reply = sim.answer("POST", self.path, self.headers, raw, action)
                if action.get("trickle"):
                    if not self._trickle(reply, action["trickle"]):
                        reply.record["status"] = "abandoned"
                    sim._record(reply.record)
                    return None
                sim._record(reply.record)
                self._reply(reply.status, reply.payload, reply.content_type)
                return None

            def _trickle(self, reply: Reply, seconds: float) -> bool:
                """Answer a byte at a time over ``seconds``; False if the client hung up."""
                with sim._lock:
                    sim.holding += 1
                    sim._lock.notify_all()
                data = json.dumps(reply.payload, ensure_ascii=False).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
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
                answer = sim.control(self.path, json.loads(raw or b"{}"))
                if answer is None:
                    return self._reply(404, {"error": "not found"}, "application/json")
                self._reply(200, answer, "application/json")
                return None

        return Handler


def run_standalone(
    make: type[VendorSimulator], doc: str, name: str, port: int, **options: str
) -> None:
    """``python -m tools.<vendor>_sim``: ``--port``, ``--delay`` and one flag per
    constructor option (``options`` holds their defaults); serves until Ctrl-C."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--port", type=int, default=port)
    for option, default in options.items():
        parser.add_argument(f"--{option.replace('_', '-')}", default=default)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = vars(parser.parse_args())
    delay = args.pop("delay")
    sim = make(**args)
    sim.delay = delay
    print(f"{name} simulator on {sim.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        sim._server.serve_forever()
