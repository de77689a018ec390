"""Settings from the environment, defaults from the contract, clear refusals."""

from __future__ import annotations

import pytest

from config import ConfigError, load_config


def test_defaults_follow_the_contract():
    config = load_config({})

    assert config.NAME == "development"
    assert config.SMS_PROVIDER == "console"
    assert (config.SMS_CODE_TTL, config.SMS_SEND_INTERVAL) == (300, 60)
    assert (config.SMS_VERIFY_MAX_ATTEMPTS, config.SMS_DAILY_LIMIT) == (5, 5)
    assert config.RONGLIAN_TEMPLATE_ID == "1"
    assert config.RONGLIAN_BASE_URL == "https://app.cloopen.com:8883"
    assert config.RATELIMIT_SMS_PER_IP == "5 per minute;30 per hour"
    assert config.TRUSTED_PROXY_COUNT == 0


def test_broker_and_backend_follow_redis_url_unless_set():
    config = load_config({"REDIS_URL": "redis://cache:6380/2"})
    assert config.CELERY["broker_url"] == "redis://cache:6380/2"
    assert config.CELERY["result_backend"] == "redis://cache:6380/2"

    rabbit = load_config({"CELERY_BROKER_URL": "amqp://guest:guest@mq:5672//"})
    assert rabbit.CELERY["broker_url"] == "amqp://guest:guest@mq:5672//"
    assert "visibility_timeout" not in rabbit.CELERY["broker_transport_options"]


def test_celery_is_safe_by_default():
    celery = load_config({"CELERY_TASK_DEFAULT_QUEUE": "sms"}).CELERY

    assert celery["accept_content"] == ["json"]
    assert celery["task_serializer"] == "json"
    assert celery["task_acks_late"] and celery["task_reject_on_worker_lost"]
    assert celery["worker_prefetch_multiplier"] == 1
    assert celery["timezone"] == "Asia/Shanghai"
    assert celery["task_default_queue"] == "sms"
    assert celery["broker_transport_options"]["visibility_timeout"] < 300


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"APP_CONFIG": "staging"}, "APP_CONFIG must be one of"),
        ({"SMS_CODE_TTL": "five"}, "SMS_CODE_TTL must be a whole number"),
        ({"SMS_SEND_INTERVAL": "0"}, "SMS_SEND_INTERVAL must be at least 1"),
        ({"SMS_PROVIDER": "twilio"}, "SMS_PROVIDER must be"),
        (
            {"SMS_PROVIDER": "ronglian", "RONGLIAN_ACC_ID": "a"},
            "RONGLIAN_ACC_TOKEN, RONGLIAN_APP_ID",
        ),
    ],
)
def test_bad_settings_are_refused_with_a_message_naming_them(env, message):
    with pytest.raises(ConfigError, match=message):
        load_config(env)
