"""The try-it page in a real browser (Debian's Chromium driven by Playwright)
against real gunicorn, a Celery worker and the RongLian simulator."""

from __future__ import annotations

import os
import re
import shutil
import warnings
from pathlib import Path

import pytest
import requests

MOBILE = "13812345678"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture
def browser_page(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    path = chromium_path()
    if path is None:
        reason = (
            "CHROMIUM NOT AVAILABLE: install Debian's chromium (make test does so as root); "
            "the browser test is skipped"
        )
        warnings.warn(reason, stacklevel=1)
        pytest.skip(reason)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
        page = context.new_page()
        yield page
        context.close()
        browser.close()


def test_page_headers_forbid_inline_script_and_other_origins(client):
    answer = client.get("/")

    assert answer.status_code == 200
    assert "获取验证码" in answer.get_data(as_text=True)
    csp = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "default-src 'none'" in csp
    assert "<script>" not in answer.get_data(as_text=True)  # no inline script at all
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_request_count_down_verify_and_cooldown_in_a_browser(
    start_web, start_worker, sim, browser_page, tmp_path
):
    from playwright.sync_api import expect

    shots = tmp_path / "screenshots"
    shots.mkdir()
    start_worker(pool="threads")
    web = start_web()
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))  # script errors, CSP refusals
    page.on(
        "console", lambda msg: errors.append(msg.text) if "Content Security" in msg.text else None
    )

    page.goto(f"{web}/")
    page.screenshot(path=shots / "1-empty.png")

    page.fill("#mobile", MOBILE)
    page.click("#send")
    expect(page.locator("#send")).to_contain_text("秒后重试")
    expect(page.locator("#send")).to_be_disabled()
    expect(page.locator("#message")).to_have_text("OK")
    page.screenshot(path=shots / "2-counting-down.png")

    [sms] = sim.wait_for(1)
    code = sms["datas"][0]
    page.fill("#code", code)
    page.click("#verify")
    expect(page.locator("#message")).to_have_class("ok")
    page.screenshot(path=shots / "3-verified.png")
    assert (
        requests.post(f"{web}/users/sms/{MOBILE}/verify", json={"code": code}, timeout=5).json()[
            "error"
        ]
        == "no_code"
    )  # it was used up

    page.reload()  # a fresh page: the server still remembers the cooldown
    page.fill("#mobile", MOBILE)
    page.click("#send")
    expect(page.locator("#message")).to_contain_text("cooldown")
    label = page.text_content("#send")
    seconds = int(label.split()[0])
    assert 1 <= seconds <= 60
    assert page.is_disabled("#send")
    page.screenshot(path=shots / "4-cooldown.png")

    page.fill("#mobile", "12345")
    page.click("#verify")
    expect(page.locator("#message")).to_contain_text("invalid_mobile")
    page.screenshot(path=shots / "5-bad-mobile.png")

    assert errors == []
    assert len(sim.requests()) == 1
    print(f"screenshots in {shots}")


def test_the_page_asks_for_the_captcha_when_the_server_does(
    start_web, start_worker, sim, browser_page, tmp_path
):
    from playwright.sync_api import expect

    shots = tmp_path / "screenshots"
    shots.mkdir()
    captcha = {"SMS_CAPTCHA": "always", "SMS_CAPTCHA_TEST_ANSWER": "QZ7K"}
    start_worker(env=captcha, pool="threads")
    web = start_web(env=captcha)
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console", lambda msg: errors.append(msg.text) if "Content Security" in msg.text else None
    )
    page.goto(f"{web}/")
    expect(page.locator("#captcha-row")).to_be_hidden()

    page.fill("#mobile", MOBILE)
    page.click("#send")
    expect(page.locator("#message")).to_contain_text("captcha_required")
    image = page.locator("#captcha-image")
    expect(image).to_be_visible()
    expect(image).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    page.wait_for_function("document.getElementById('captcha-image').naturalWidth === 160")
    page.screenshot(path=shots / "1-captcha.png")

    first = image.get_attribute("src")
    image.click()  # a tap draws a new one
    expect(image).not_to_have_attribute("src", first)

    page.fill("#captcha", "AAAA")
    page.click("#send")
    expect(page.locator("#message")).to_contain_text("captcha_wrong")
    expect(page.locator("#captcha")).to_have_value("")  # a fresh captcha to solve
    assert sim.requests() == []

    page.fill("#captcha", "qz7k")
    page.click("#send")
    expect(page.locator("#message")).to_have_text("OK")
    expect(page.locator("#captcha-row")).to_be_hidden()
    expect(page.locator("#send")).to_contain_text("秒后重试")
    page.screenshot(path=shots / "2-sent.png")

    [sms] = sim.wait_for(1)
    page.fill("#code", sms["datas"][0])
    page.click("#verify")
    expect(page.locator("#message")).to_have_class("ok")
    assert errors == []
    assert len(sim.requests()) == 1
