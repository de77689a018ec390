"""Every ``errmsg`` the API answers, keyed by its stable ``error`` word.

The texts here are gettext message ids (English); the catalogues in
``project/translations/<locale>/LC_MESSAGES/messages.po`` give each one in
Simplified Chinese (the default) and English. ``make`` compiles them
(``pybabel compile``); the ``.mo`` files are build output, not committed.
A request's ``Accept-Language`` picks the language; the ``error`` words
never change with it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, has_request_context, request
from flask_babel import Babel, gettext

logger = logging.getLogger(__name__)

LOCALES = ("zh", "en")  # the first is the default
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def N_(text: str) -> str:
    """Marks a message for ``pybabel extract``; it is translated where it is shown."""
    return text


MESSAGES: dict[str, str] = {
    # sending a code
    "invalid_mobile": N_("The mobile number's format is wrong"),
    "invalid_purpose": N_("Unknown purpose for a code"),
    "captcha_required": N_("Please enter the picture captcha first"),
    "captcha_wrong": N_("The picture captcha is wrong or has expired; get a new one"),
    "cooldown": N_("Sending too often; try again in %(interval)s seconds"),
    "rate_limited": N_("Too many requests; try again in %(interval)s seconds"),
    # verifying a code
    "wrong_code": N_("Wrong code; %(attempts_left)s tries left"),
    "no_code": N_("The code has expired; please request a new one"),
    "invalid_request": N_("The request's parameters are malformed"),
    # verification tokens
    "token_used": N_("This verification has already been used"),
    "invalid_token": N_("The verification is invalid or has expired"),
    "unauthorized": N_("Unauthorized"),
    # any route
    "unavailable": N_("Service temporarily unavailable; please retry shortly"),
    "internal_error": N_("Internal server error; please retry later"),
    "bad_request": N_("Bad request"),
    "forbidden": N_("Forbidden"),
    "not_found": N_("Not found"),
    "method_not_allowed": N_("Method not allowed"),
    "request_entity_too_large": N_("The request is too large"),
    "unsupported_media_type": N_("Unsupported content type"),
}


def message(word: str, fallback: str | None = None, **values: object) -> str:
    """The text for ``word`` in the request's language, with ``values`` filled in."""
    text = MESSAGES.get(word)
    if text is None:
        return fallback or word
    return gettext(text, **values)


def select_locale() -> str:
    """The best of ``LOCALES`` for the request's ``Accept-Language``; Chinese otherwise."""
    if not has_request_context():
        return LOCALES[0]
    return request.accept_languages.best_match(LOCALES, default=LOCALES[0])


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", LOCALES[0])
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)
    missing = [
        locale
        for locale in LOCALES
        if not (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo").exists()
    ]
    if missing:
        logger.warning(
            "message catalogues not compiled for %s: answers fall back to English "
            "(run `make translations` or `pybabel compile -d project/translations`)",
            ", ".join(missing),
        )
