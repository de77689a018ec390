"""Debian's nginx, running the shipped deploy/nginx.conf, in front of real gunicorn.

Clients connect from different loopback addresses (127.0.0.2, 127.0.0.3), as
two users on two networks would.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
from babel.messages.pofile import read_po

from project.messages import MESSAGES, TRANSLATIONS
from tests.conftest import CALLBACK_TOKEN, skip_loudly
from tools.nginx_server import NginxServer, nginx_binary
from tools.services import wait_until

ALICE, BOB = "127.0.0.2", "127.0.0.3"


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> dict:
        return json.loads(self.body)


def request(
    url: str,
    method: str,
    path: str,
    source: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One HTTP request whose TCP connection comes from ``source``."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=30, source_address=(source, 0)
    )
    try:
        conn.request(method, path, body=body, headers=headers or {})
        answer = conn.getresponse()
        return Answer(answer.status, dict(answer.getheaders()), answer.read())
    finally:
        conn.close()


@pytest.fixture
def proxied(start_web, tmp_path):
    """gunicorn (TRUSTED_PROXY_COUNT=1, 2 sends per minute per IP) behind nginx."""
    if nginx_binary() is None:
        reason = "NGINX NOT AVAILABLE: make test installs Debian's nginx as root; skipped"
        skip_loudly(reason)
    web = start_web({"TRUSTED_PROXY_COUNT": "1", "RATELIMIT_SMS_PER_IP": "2 per minute"})
    with NginxServer(urlsplit(web).netloc, tmp_path / "nginx") as nginx:
        yield nginx


def text(locale: str, word: str) -> str:
    """The app's message for ``word``: nginx's own answers must say the same."""
    path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po:
        return read_po(po).get(MESSAGES[word]).string


def web_service(services):
    return next(s for s in services if s.name.startswith("gunicorn"))


def test_two_clients_behind_nginx_get_their_own_per_ip_buckets(proxied):
    send = lambda source, mobile: request(proxied.url, "POST", f"/users/sms/{mobile}", source)  # noqa: E731

    assert [send(ALICE, m).status for m in ("13800000001", "13800000002")] == [200, 200]
    refused = send(ALICE, "13800000003")
    assert refused.status == 429 and refused.json()["error"] == "rate_limited"

    # Bob shares the proxy (and so the socket peer) with Alice, not her bucket.
    assert send(BOB, "13800000004").status == 200


def test_a_client_cannot_pick_its_bucket_with_x_forwarded_for(proxied):
    def send(mobile: str, forwarded: str) -> int:
        path = f"/users/sms/{mobile}"
        return request(proxied.url, "POST", path, ALICE, headers={"X-Forwarded-For": forwarded})

    assert send("13800000011", "10.0.0.1").status == 200
    assert send("13800000012", "10.0.0.2").status == 200
    # A fresh address each time would be a fresh bucket if the header were believed.
    refused = send("13800000013", "10.0.0.3")
    assert refused.status == 429
    assert refused.json()["error"] == "rate_limited"


def test_the_access_logs_show_the_client_address_and_a_masked_mobile(proxied, services):
    assert request(proxied.url, "POST", "/users/sms/13812345678", BOB).status == 200

    web = web_service(services)
    web.wait_for_output("/users/sms/")  # gunicorn logs the line after the answer
    wait_until(lambda: "/users/sms/" in proxied.access_log.read_text(), "nginx's access log")
    gunicorn_log = web.output()
    line = next(line for line in gunicorn_log.splitlines() if "/users/sms/" in line)
    assert line.startswith(BOB)  # the client, not nginx's 127.0.0.1
    assert "/users/sms/138****5678" in line
    nginx_log = proxied.access_log.read_text()
    assert nginx_log.startswith(BOB) and "/users/sms/138****5678" in nginx_log
    for text in (gunicorn_log, nginx_log, proxied.error_log.read_text()):
        assert "13812345678" not in text


def test_an_oversized_body_is_refused_by_nginx_with_json(proxied, services):
    body = json.dumps({"code": "1" * 100_000}).encode()
    answer = request(
        proxied.url,
        "POST",
        "/users/sms/13812345678/verify",
        ALICE,
        body=body,
        headers={"Content-Type": "application/json"},
    )

    assert answer.status == 413
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {
        "error": "request_entity_too_large",
        "errmsg": text("zh", "request_entity_too_large"),
    }
    assert "verify" not in web_service(services).output()  # it never reached gunicorn


def test_a_stopped_gunicorn_gives_json_not_nginx_html(proxied, services):
    web_service(services).stop()

    answer = request(proxied.url, "POST", "/users/sms/13812345678", ALICE)

    assert answer.status == 502
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {"error": "bad_gateway", "errmsg": text("zh", "unavailable")}
    assert b"<html" not in answer.body
    assert "13812345678" not in proxied.access_log.read_text()
    english = request(
        proxied.url, "POST", "/users/sms/13812345678", ALICE, headers={"Accept-Language": "en"}
    )
    assert english.json() == {"error": "bad_gateway", "errmsg": text("en", "unavailable")}


def test_metrics_are_not_served_through_the_proxy(proxied):
    answer = request(proxied.url, "GET", "/metrics", ALICE, headers={"Accept-Language": "en"})

    assert answer.status == 403
    assert answer.json() == {"error": "forbidden", "errmsg": text("en", "forbidden")}


def test_a_batch_of_delivery_reports_passes_and_no_log_shows_the_callback_token(
    start_web, tmp_path, services
):
    if nginx_binary() is None:
        pytest.skip("NGINX NOT AVAILABLE: make test installs Debian's nginx as root; skipped")
    web = start_web({"TRUSTED_PROXY_COUNT": "1", "SMS_CALLBACK_TOKEN": CALLBACK_TOKEN})
    report = {"success": True, "err_code": "DELIVERED", "report_time": "2026-11-30 12:00:00"}
    batch = [{**report, "biz_id": f"{n}^0"} for n in range(500)]  # far above 16 KiB
    with NginxServer(urlsplit(web).netloc, tmp_path / "nginx") as nginx:
        answer = request(
            nginx.url,
            "POST",
            f"/callbacks/aliyun/sms-report?token={CALLBACK_TOKEN}",
            ALICE,
            body=json.dumps(batch).encode(),
            headers={"Content-Type": "application/json"},
        )
        wait_until(lambda: "/callbacks/" in nginx.access_log.read_text(), "nginx's access log")
        web_service(services).wait_for_output("/callbacks/")
        nginx_log = nginx.access_log.read_text()
        logs = (nginx_log, nginx.error_log.read_text(), web_service(services).output())

    assert answer.status == 200 and answer.json() == {"code": 0, "msg": "接收成功"}
    assert "/callbacks/aliyun/sms-report?token=***" in nginx_log
    for text in logs:
        assert CALLBACK_TOKEN not in text
