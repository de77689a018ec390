"""The providers against the RongLian simulator: protocol, statuses, silence."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from project.providers.console import ConsoleProvider
from project.providers.ronglian import RongLianProvider
from tests.conftest import ACC_ID, ACC_TOKEN, APP_ID

MOBILE = "13812345678"


@pytest.fixture
def provider(sim):
    return RongLianProvider(ACC_ID, ACC_TOKEN, APP_ID, sim.url)


def test_send_reaches_the_simulator_correctly_signed(provider, sim):
    result = provider.send("1", MOBILE, ["123456", "5"])

    assert result.ok
    [request] = sim.requests()
    assert request == {
        **request,
        "to": MOBILE,
        "appId": APP_ID,
        "templateId": "1",
        "datas": ["123456", "5"],
        "status": "000000",
    }


def test_sends_reuse_one_keep_alive_connection_per_thread(provider, sim):
    def three_sends() -> list[bool]:
        return [provider.send("1", MOBILE, ["123456", "5"]).ok for _ in range(3)]

    with ThreadPoolExecutor(1) as fresh_thread:  # its own session, so counted from zero
        assert fresh_thread.submit(three_sends).result() == [True] * 3

    assert sim.connections == 1
    assert len(sim.delivered()) == 3


def test_a_wrong_token_is_refused_by_the_signature_check(sim):
    result = RongLianProvider(ACC_ID, "not-the-token", APP_ID, sim.url).send(
        "1", MOBILE, ["1", "5"]
    )

    assert not result.ok
    assert result.status_code == "111109"


@pytest.mark.parametrize(
    ("answer", "status"),
    [({"status": "160042"}, "160042"), ({"http": 500}, "500"), ({"drop": True}, "172001")],
)
def test_failures_come_back_as_status_codes(provider, sim, answer, status):
    sim.script(answer)

    result = provider.send("1", MOBILE, ["123456", "5"])

    assert (result.ok, result.status_code) == (False, status)


def test_unreachable_provider_is_a_network_error_naming_its_cause(unused_port):
    provider = RongLianProvider(ACC_ID, ACC_TOKEN, APP_ID, f"http://127.0.0.1:{unused_port}")

    result = provider.send("1", MOBILE, ["123456", "5"])

    assert result.status_code == "172001"
    assert "ConnectionError" in result.message


def test_the_sdk_prints_nothing_at_all(provider, sim, capfd):
    provider.send("1", MOBILE, ["123456", "5"])
    sim.script({"drop": True})
    provider.send("1", MOBILE, ["123456", "5"])

    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_console_provider_shows_the_code_with_a_masked_mobile(caplog):
    caplog.set_level("INFO")

    assert ConsoleProvider().send("1", MOBILE, ["123456", "5"]).ok

    assert "SMS to 138****5678: code 123456 (valid 5 min)" in caplog.text
    assert MOBILE not in caplog.text


class _ForwardProxy(BaseHTTPRequestHandler):
    """A plain-HTTP forward proxy: records each target it is asked for, relays both ways."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.server.targets.append(self.path)  # type: ignore[attr-defined]
        target = urlsplit(self.path)  # a proxy is asked for the absolute URI
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        skip = {"host", "connection", "proxy-connection"}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        upstream = http.client.HTTPConnection(target.netloc, timeout=10)
        upstream.request("POST", f"{target.path}?{target.query}", body, headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.getheader("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ForwardProxy)
    server.targets = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("bypassed", [False, True], ids=["proxied", "no_proxy"])
def test_a_worker_sends_through_the_proxy_its_environment_names(
    app, start_worker, sim, proxy, bypassed
):
    url = f"http://127.0.0.1:{proxy.server_address[1]}"
    no_proxy = "127.0.0.1" if bypassed else ""
    env = {"http_proxy": url, "HTTP_PROXY": url, "no_proxy": no_proxy, "NO_PROXY": no_proxy}
    start_worker(env=env, pool="threads")

    assert app.test_client().post(f"/users/sms/{MOBILE}").status_code == 200

    [sms] = sim.wait_for(1, timeout=30)
    assert sms["to"] == MOBILE
    if bypassed:
        assert proxy.targets == []
    else:
        [target] = proxy.targets
        assert target.startswith(f"{sim.url}/2013-12-26/Accounts/{ACC_ID}/SMS/")
