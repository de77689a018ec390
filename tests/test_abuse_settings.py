"""The abuse defence's settings: defaults, clear refusals, the start-up line."""

from __future__ import annotations

import logging

import pytest

from config import ConfigError, load_config
from project import create_app
from tests.test_production_guard import SAFE as PRODUCTION


def test_defaults():
    config = load_config({})

    assert config.SMS_CAPTCHA == "auto"
    assert config.SMS_CAPTCHA_TEST_ANSWER is None
    assert (config.SMS_HOURLY_BUDGET, config.SMS_DAILY_BUDGET) == (0, 0)
    assert config.SMS_TEST_NUMBERS == {}
    assert config.SMS_RISK_IP_PER_HOUR == 3
    assert config.SMS_RISK_RANGE_PER_HOUR == 30
    assert config.CELERY["beat_schedule"]["check-conversion"]["task"] == "check_conversion"


@pytest.mark.parametrize(("raw", "mode"), [("off", "off"), ("AUTO", "auto"), ("always", "always")])
def test_each_captcha_mode_is_accepted(raw, mode):
    chosen = load_config({"SMS_CAPTCHA": raw}).SMS_CAPTCHA

    assert chosen == mode


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SMS_CAPTCHA": "sometimes"}, "SMS_CAPTCHA must be one of off, auto, always"),
        ({"SMS_CAPTCHA_TEST_ANSWER": "ABCD"}, "SMS_CAPTCHA_TEST_ANSWER .* unless APP_CONFIG"),
        ({**PRODUCTION, "SMS_CAPTCHA_TEST_ANSWER": "ABCD"}, "SMS_CAPTCHA_TEST_ANSWER"),
        ({"SMS_HOURLY_BUDGET": "-1"}, "SMS_HOURLY_BUDGET must be at least 0"),
        ({"RATELIMIT_CAPTCHA_PER_IP": "lots"}, "RATELIMIT_CAPTCHA_PER_IP is not a rate limit"),
        ({"SMS_DAILY_BUDGET": "lots"}, "SMS_DAILY_BUDGET must be a whole number"),
        ({"SMS_RISK_RANGE_PER_HOUR": "0"}, "SMS_RISK_RANGE_PER_HOUR must be at least 1"),
        ({"SMS_CONVERSION_ALARM_RATIO": "1.5"}, "SMS_CONVERSION_ALARM_RATIO must be between"),
        ({"SMS_TEST_NUMBERS": "13800138000"}, "SMS_TEST_NUMBERS must be comma-separated"),
        ({"SMS_TEST_NUMBERS": "13800138000:12345"}, "SMS_TEST_NUMBERS must be comma-separated"),
        ({"SMS_TEST_NUMBERS": "12800138000:123456"}, "SMS_TEST_NUMBERS must be comma-separated"),
        (
            {"SMS_TEST_NUMBERS": "13800138000:123456,13800138000:654321"},
            r"SMS_TEST_NUMBERS lists 138\*\*\*\*8000 twice",
        ),
    ],
)
def test_bad_settings_are_refused_naming_them(env, message):
    with pytest.raises(ConfigError, match=message) as refused:
        load_config(env)

    assert "\n" not in str(refused.value)
    assert "654321" not in str(refused.value) and "13800138000" not in str(refused.value)


def test_the_test_answer_is_honoured_in_testing_and_production_starts_without_it():
    assert load_config({"APP_CONFIG": "testing", "SMS_CAPTCHA_TEST_ANSWER": "ABCD"})
    assert load_config(PRODUCTION).SMS_CAPTCHA == "auto"


def test_test_numbers_are_parsed_and_listed_masked_in_one_start_up_line(settings, caplog):
    caplog.set_level(logging.INFO)
    numbers = " 13700000001:246810 , 13700000002:135790,"

    app = create_app({**settings, "SMS_TEST_NUMBERS": numbers})

    assert app.config["SMS_TEST_NUMBERS"] == {"13700000001": "246810", "13700000002": "135790"}
    [line] = [r.getMessage() for r in caplog.records if "test numbers" in r.getMessage()]
    assert "137****0001, 137****0002" in line
    assert "13700000001" not in caplog.text and "246810" not in caplog.text
