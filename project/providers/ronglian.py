"""RongLian Cloud (容联云) through the official ``ronglian-sms-sdk``.

The SDK prints its signing input (which holds the account token), the
request body (which holds the code) and the response to stdout, and prints
tracebacks to stderr. Under a Celery worker stdout becomes log lines, so
those prints are silenced here by shadowing ``print`` and ``traceback`` in
the SDK's module globals: unlike ``redirect_stdout`` this is not
process-global state, so it is safe under the threads and gevent pools.

The SDK also calls ``requests.post`` afresh for every SMS: a new TCP and TLS
connection each time. Its ``requests`` is shadowed the same way by one
keep-alive ``Session`` per thread (per greenlet under gevent). The proxy
settings (``HTTPS_PROXY``, ``NO_PROXY``...) and CA bundle the environment
names are read once per vendor address, not on every call as ``requests``
does (a quarter of a send's CPU in the worker). The session also
holds each call to a wall-clock deadline (``SMS_PROVIDER_TIMEOUT``): the
SDK's own ``(2, 5)`` time-outs are per socket read, so a provider that
trickles its answer would hold a send for ever, on every pool (the threads
pool ignores Celery's time limits). Past the deadline the connection is
closed and the SDK reports its network error, 172001.

The SDK has no voice call. ``call`` places RongLian's 语音验证码
(``VoiceVerify``) itself, on the same host, signed by the SDK's own signing
methods (nothing copied), through the same pooled ``post`` and deadline.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from ronglian_sms_sdk import SmsSDK

from .base import SendResult, Verdict, never_connected
from .deadline import bound, within
from .status import classify

logger = logging.getLogger(__name__)

NETWORK_ERROR = "172001"
BAD_RESPONSE = "172003"

_last_error = threading.local()


class _PooledRequests:
    """Stands in for ``requests`` in the SDK: ``post`` on a reused Session, within a deadline."""

    codes = requests.codes

    def __init__(self) -> None:
        self._local = threading.local()

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False  # the environment is read once, by _environment
            for scheme in ("http://", "https://"):
                session.mount(scheme, bound(HTTPAdapter()))
        proxies, verify = _environment("/".join(url.split("/", 3)[:3]))
        return session.post(url, proxies=proxies, verify=verify, **kwargs)


@functools.cache
def _environment(origin: str) -> tuple[dict[str, str], str | bool]:
    """The proxies and CA bundle the environment names for ``origin``, as ``requests`` reads them.

    ``requests`` reads them again on every call (``trust_env``); the
    environment does not change under a running process. A ``.netrc`` is not
    read: the vendor signs each request itself.
    """
    settings = requests.Session().merge_environment_settings(origin, {}, None, None, None)
    return settings["proxies"], settings["verify"]


class _QuietTraceback:
    """Stands in for ``traceback`` in the SDK: keeps the error's type, prints nothing."""

    @staticmethod
    def print_exc(*args: Any, **kwargs: Any) -> None:
        error = sys.exc_info()[1]
        _last_error.name = type(error).__name__
        _last_error.unsent = never_connected(error)


_REQUESTS = _PooledRequests()
VOICE_URI = "/2013-12-26/Accounts/{}/Calls/VoiceVerify"


def _silence_sdk() -> None:
    module = importlib.import_module("ronglian_sms_sdk.SmsSDK")
    module.print = lambda *args, **kwargs: None
    module.traceback = _QuietTraceback
    module.requests = _REQUESTS


_silence_sdk()


class RongLianProvider:
    name = "ronglian"

    def __init__(
        self,
        acc_id: str,
        acc_token: str,
        app_id: str,
        base_url: str,
        timeout: float = 10.0,
        voice: VoiceSettings | None = None,
    ) -> None:
        self._sdk = SmsSDK(acc_id, acc_token, app_id)
        self._sdk.url = base_url  # a class attribute in the SDK; this redirects one instance
        self.timeout = timeout
        self._acc_id, self._app_id = acc_id, app_id
        self.voice = voice or VoiceSettings()

    def send(
        self, tid: str, mobile: str, datas: Sequence[str], purpose: str | None = None
    ) -> SendResult:
        """Send with template ``tid``; ``purpose`` already chose it."""
        _last_error.name, _last_error.unsent = None, False
        with within(self.timeout):
            raw = self._sdk.sendMessage(tid, mobile, tuple(datas))
        try:
            answer = json.loads(raw)
            status = str(answer["statusCode"])
        except (ValueError, KeyError, TypeError):
            return SendResult(self.name, BAD_RESPONSE, classify(BAD_RESPONSE), None, "unreadable")
        message = str(answer.get("statusMsg") or "")
        verdict = classify(status)
        if status == NETWORK_ERROR and _last_error.name:
            message = f"network error ({_last_error.name})"
            if _last_error.unsent:
                verdict = Verdict(verdict.action, "never reached RongLian", failover=True)
        sid = (answer.get("templateSMS") or {}).get("smsMessageSid")
        return SendResult(self.name, status, verdict, sid or None, message)

    def call(self, mobile: str, code: str, purpose: str | None = None) -> SendResult:
        """Place a voice code call (VoiceVerify) that reads ``code`` out; never raises."""
        timestamp = time.strftime("%Y%m%d%H%M%S", time.localtime())
        # The SDK's own signing (name-mangled private methods): sig and Authorization.
        sig = self._sdk._SmsSDK__buildSign(timestamp)
        headers = self._sdk._SmsSDK__buildHeaders(timestamp)
        url = f"{self._sdk.url}{VOICE_URI.format(self._acc_id)}?sig={sig}"
        body = {
            "appId": self._app_id,
            "verifyCode": code,
            "playTimes": str(self.voice.play_times),
            "to": mobile,
            "displayNum": self.voice.display_num,
            "respUrl": self.voice.resp_url,
            "lang": self.voice.lang,
            "userData": purpose or "",
        }
        try:
            with within(self.timeout):
                response = _REQUESTS.post(
                    url, headers=headers, data=json.dumps(body), timeout=(2, 5)
                )
        except requests.RequestException as exc:
            verdict = classify(NETWORK_ERROR)
            if never_connected(exc):
                verdict = Verdict(verdict.action, "never reached RongLian", failover=True)
            message = f"network error ({type(exc).__name__})"
            return SendResult(self.name, NETWORK_ERROR, verdict, None, message)
        try:
            answer = response.json() if response.status_code == requests.codes.ok else {}
            status = str(answer.get("statusCode") or response.status_code)
        except (ValueError, AttributeError):
            return SendResult(self.name, BAD_RESPONSE, classify(BAD_RESPONSE), None, "unreadable")
        call_sid = (answer.get("VoiceVerify") or {}).get("callSid")
        message = str(answer.get("statusMsg") or "")
        return SendResult(self.name, status, classify(status), call_sid or None, message)


@dataclass(frozen=True)
class VoiceSettings:
    """RONGLIAN_VOICE_*: the caller id shown, plays, language; where the result is pushed."""

    display_num: str = ""
    play_times: int = 2
    lang: str = "zh"
    resp_url: str = ""
