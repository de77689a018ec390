"""The try-it page in a real browser (Debian's Chromium driven by Playwright)
against real gunicorn, a Celery worker and the RongLian simulator."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import requests

from tests.conftest import skip_loudly

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
def open_browser():
    """Opens phone-sized pages in Chromium whose language is ``locale``."""
    sync_api = pytest.importorskip("playwright.sync_api")
    path = chromium_path()
    if path is None:
        reason = (
            "CHROMIUM NOT AVAILABLE: install Debian's chromium (make test does so as root); "
            "the browser test is skipped"
        )
        skip_loudly(reason)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        contexts = []

        def open_page(locale: str = "zh-CN"):
            # A phone; the locale sets navigator.languages and Accept-Language.
            context = browser.new_context(viewport={"width": 390, "height": 844}, locale=locale)
            contexts.append(context)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))  # script errors
            page.on(
                "console",
                lambda msg: errors.append(msg.text) if "Content Security" in msg.text else None,
            )
            return page, errors

        yield open_page
        for context in contexts:
            context.close()
        browser.close()


@pytest.fixture
def open_service(start_web, start_worker, open_browser):
    """Starts the service with ``env`` (a worker too unless ``worker=False``) and opens its
    page in ``locale``; gives the web address, the page and its script errors."""

    def open_page(locale: str = "zh-CN", env: dict[str, str] | None = None, worker: bool = True):
        if worker:
            start_worker(env=env, pool="threads")
        web = start_web(env=env)
        page, errors = open_browser(locale)
        page.goto(f"{web}/")
        return web, page, errors

    return open_page


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where a test's screenshots go (kept with the test's files)."""
    path = tmp_path / "screenshots"
    path.mkdir()
    return path


def test_page_headers_forbid_inline_script_and_other_origins(client):
    answer = client.get("/")

    assert answer.status_code == 200
    assert "获取验证码" in answer.get_data(as_text=True)
    csp = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "default-src 'none'" in csp
    assert "<script>" not in answer.get_data(as_text=True)  # no inline script at all
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_a_chinese_phone_sees_chinese_for_each_step(open_service, sim, shots):
    from playwright.sync_api import expect

    web, page, errors = open_service("zh-CN")
    message = page.locator("#message")
    page.screenshot(path=shots / "1-empty.png")

    page.fill("#mobile", "12345")
    page.click("#send")
    expect(message).to_have_text("手机号格式不正确")
    expect(message).to_have_class("error")
    page.screenshot(path=shots / "2-bad-mobile.png")

    page.fill("#mobile", MOBILE)
    page.click("#send")
    expect(message).to_have_text("验证码已发送")
    expect(page.locator("#send")).to_contain_text("秒后重试")
    expect(page.locator("#send")).to_be_disabled()
    page.screenshot(path=shots / "3-sent-counting-down.png")

    [sms] = sim.wait_for(1)
    code = sms["datas"][0]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    page.fill("#code", wrong)
    page.click("#verify")
    expect(message).to_have_text("验证码错误，还可尝试4次")
    expect(message).to_have_class("error")
    page.screenshot(path=shots / "4-wrong-code.png")

    page.fill("#code", code)
    page.click("#verify")
    expect(message).to_have_text("验证成功，已收到验证凭证")
    expect(message).to_have_class("ok")
    page.screenshot(path=shots / "5-verified.png")
    used = requests.post(f"{web}/users/sms/{MOBILE}/verify", json={"code": code}, timeout=5)
    assert used.json()["error"] == "no_code"  # it was used up

    page.reload()  # a fresh page: the server still remembers the cooldown
    page.fill("#mobile", MOBILE)
    page.click("#send")
    expect(message).to_contain_text("短信发送过于频繁，请")
    seconds = int(page.text_content("#send").split()[0])
    assert 1 <= seconds <= 60
    assert re.fullmatch(r"短信发送过于频繁，请[1-9][0-9]?秒后再次点击获取", message.text_content())
    assert page.is_disabled("#send")
    page.screenshot(path=shots / "6-cooldown.png")

    assert errors == []
    assert len(sim.requests()) == 1
    print(f"screenshots in {shots}")


def test_an_english_browser_gets_the_page_and_the_answers_in_english(open_service, sim, tmp_path):
    from playwright.sync_api import expect

    _, page, errors = open_service("en-US", worker=False)
    message = page.locator("#message")
    expect(page.locator("#send")).to_have_text("Get code")
    page.fill("#mobile", "12345")
    page.click("#send")
    expect(message).to_have_text("The mobile number's format is wrong")

    page.fill("#mobile", MOBILE)
    page.click("#send")
    expect(message).to_have_text("Code sent")
    expect(page.locator("#send")).to_contain_text("Retry in")
    page.screenshot(path=tmp_path / "english-sent.png")
    assert errors == []


def test_the_page_asks_for_the_captcha_when_the_server_does(open_service, sim, shots):
    from playwright.sync_api import expect

    captcha = {"SMS_CAPTCHA": "always", "SMS_CAPTCHA_TEST_ANSWER": "QZ7K"}
    _, page, errors = open_service("zh-CN", env=captcha)
    message = page.locator("#message")
    expect(page.locator("#captcha-row")).to_be_hidden()

    page.fill("#mobile", MOBILE)
    page.click("#send")
    expect(message).to_have_text("请先输入图形验证码")
    expect(message).to_have_class("error")
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
    expect(message).to_have_text("图形验证码错误或已失效，请重新获取")
    expect(page.locator("#captcha")).to_have_value("")  # a fresh captcha to solve
    assert sim.requests() == []

    page.fill("#captcha", "qz7k")
    page.click("#send")
    expect(message).to_have_text("验证码已发送")
    expect(page.locator("#captcha-row")).to_be_hidden()
    expect(page.locator("#send")).to_contain_text("秒后重试")
    page.screenshot(path=shots / "2-sent.png")

    [sms] = sim.wait_for(1)
    page.fill("#code", sms["datas"][0])
    page.click("#verify")
    expect(message).to_have_text("验证成功，已收到验证凭证")
    assert errors == []
    assert len(sim.requests()) == 1


def test_the_purpose_selector_and_a_voice_code_end_to_end(open_service, sim, shots):
    """Log in: an SMS with login's template, then a voice code after the cooldown."""
    from playwright.sync_api import expect

    env = {"RONGLIAN_TEMPLATES": "login:22,reset_password:33", "SMS_SEND_INTERVAL": "3"}
    _, page, errors = open_service("zh-CN", env=env)
    message = page.locator("#message")
    voice = page.locator("#voice")
    expect(page.locator("#voice-row")).to_be_hidden()
    assert page.locator("#purpose option").all_text_contents() == ["注册", "登录", "找回密码"]

    page.select_option("#purpose", label="登录")
    page.fill("#mobile", MOBILE)
    page.click("#send")
    expect(message).to_have_text("验证码已发送")
    expect(voice).to_be_visible()
    expect(voice).to_be_disabled()  # not during the SMS cooldown
    [sms] = sim.wait_for(1)
    assert sms["kind"] == "sms" and sms["templateId"] == "22"
    page.screenshot(path=shots / "1-sms-sent.png")

    expect(voice).to_be_enabled(timeout=10_000)
    voice.click()
    expect(message).to_have_text("请接听语音来电，留意播报的验证码")
    [_, call] = sim.wait_for(2)
    assert call["kind"] == "voice" and call["userData"] == "login"
    page.screenshot(path=shots / "2-voice-sent.png")

    page.fill("#code", sms["datas"][0])  # the voice code replaced the SMS's
    page.click("#verify")
    expect(message).to_contain_text("验证码错误")
    page.fill("#code", call["verifyCode"])
    with page.expect_response(lambda r: r.url.endswith("/verify")) as answer:
        page.click("#verify")
    token = answer.value.json()["verification_token"]
    expect(message).to_have_text("验证成功，已收到验证凭证")
    assert token not in page.content()
    page.screenshot(path=shots / "3-verified.png")
    assert errors == []
    assert len(sim.requests()) == 2
