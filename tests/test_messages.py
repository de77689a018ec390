"""Every error word has a Chinese and an English message; Accept-Language picks one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from project.messages import LOCALES, MESSAGES
from project.openapi import DOCUMENT

TRANSLATIONS = Path(__file__).resolve().parent.parent / "project" / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)s")
CJK = re.compile(r"[\u4e00-\u9fff]")
MOBILE = "13812345678"


def error_words(node: object) -> Iterator[str]:
    """Every ``error`` enum in the OpenAPI document, wherever it is nested."""
    if isinstance(node, dict):
        error = node.get("properties", {}).get("error") if "properties" in node else None
        if isinstance(error, dict):
            yield from error.get("enum", [])
        for value in node.values():
            yield from error_words(value)
    elif isinstance(node, list):
        for value in node:
            yield from error_words(value)


def catalogue(locale: str) -> dict[str, str]:
    path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po:
        return {m.id: m.string for m in read_po(po) if m.id and not m.fuzzy}


OPENAPI_WORDS = sorted(set(error_words(DOCUMENT)))


def test_the_openapi_document_names_the_api_error_words():
    assert {"invalid_mobile", "cooldown", "rate_limited", "wrong_code", "no_code"} <= set(
        OPENAPI_WORDS
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_every_openapi_error_word_has_a_message_in_each_catalogue(locale):
    texts = catalogue(locale)
    missing = [word for word in OPENAPI_WORDS if not texts.get(MESSAGES.get(word, word))]
    assert missing == [], f"{locale}: no message for {missing}"
    for word in OPENAPI_WORDS:
        msgid, translated = MESSAGES[word], texts[MESSAGES[word]]
        assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(msgid))
        if locale == "zh":
            assert CJK.search(translated), f"{word}: {translated!r} is not Chinese"


@pytest.mark.parametrize("locale", LOCALES)
def test_the_catalogues_hold_exactly_the_messages_of_the_code(locale):
    assert set(catalogue(locale)) == set(MESSAGES.values())


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        (None, "手机号格式不正确"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "手机号格式不正确"),
        ("zh-TW", "手机号格式不正确"),
        ("fr-FR", "手机号格式不正确"),  # neither: the default, Chinese
        ("en", "The mobile number's format is wrong"),
        ("en-US,en;q=0.9", "The mobile number's format is wrong"),
        ("zh;q=0.4, en;q=0.8", "The mobile number's format is wrong"),
    ],
)
def test_accept_language_picks_the_language(client, accept_language, expected):
    headers = {"Accept-Language": accept_language} if accept_language else {}

    answer = client.post("/users/sms/12345", headers=headers)

    assert answer.status_code == 400
    assert answer.json == {"error": "invalid_mobile", "errmsg": expected}


def test_the_answers_speak_like_the_seed(client):
    assert client.post(f"/users/sms/{MOBILE}").json["errmsg"] == "OK"
    cooldown = client.post(f"/users/sms/{MOBILE}").json
    assert cooldown["error"] == "cooldown"
    assert cooldown["errmsg"] == f"短信发送过于频繁，请{cooldown['interval']}秒后再次点击获取"

    wrong = client.post(f"/users/sms/{MOBILE}/verify", json={"code": "000000"}).json
    if wrong["error"] == "wrong_code":  # 1 in 10^6 the code is 000000
        assert wrong["errmsg"] == f"验证码错误，还可尝试{wrong['attempts_left']}次"
    assert client.post("/users/sms/13900000000/verify", json={"code": "123456"}).json == {
        "error": "no_code",
        "errmsg": "验证码已失效，请重新获取",
    }
    assert client.get("/no/such/page").json == {"error": "not_found", "errmsg": "请求的资源不存在"}


def test_english_answers_keep_the_same_error_words_and_numbers(client):
    english = {"Accept-Language": "en"}
    client.post(f"/users/sms/{MOBILE}", headers=english)

    cooldown = client.post(f"/users/sms/{MOBILE}", headers=english).json
    assert cooldown["error"] == "cooldown"
    assert cooldown["errmsg"] == f"Sending too often; try again in {cooldown['interval']} seconds"
    wrong = client.post(f"/users/sms/{MOBILE}/verify", json={"code": "000000"}, headers=english)
    if wrong.json["error"] == "wrong_code":
        assert wrong.json["errmsg"] == f"Wrong code; {wrong.json['attempts_left']} tries left"
    bad = client.post(f"/users/sms/{MOBILE}/verify", data="not json", headers=english)
    assert bad.json == {
        "error": "invalid_request",
        "errmsg": "The request's parameters are malformed",
    }
