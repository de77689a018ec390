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


def test_sentinels_carry_the_broker_the_backend_and_the_master_name():
    config = load_config({"REDIS_SENTINELS": "s1:26379, s2:26379", "REDIS_SENTINEL_MASTER": "m"})
    celery = config.CELERY

    assert config.REDIS_SENTINELS == [("s1", 26379), ("s2", 26379)]
    assert celery["broker_url"] == "sentinel://s1:26379/0;sentinel://s2:26379/0"
    assert celery["result_backend"] == celery["broker_url"]
    assert celery["broker_transport_options"]["master_name"] == "m"
    assert celery["result_backend_transport_options"]["master_name"] == "m"
    assert config.CELERY_QUEUE_TYPE == "classic"

    rabbit = load_config(
        {
            "REDIS_SENTINELS": "s1:26379",
            "REDIS_SENTINEL_MASTER": "m",
            "CELERY_BROKER_URL": "amqp://mq1//;amqp://mq2//",
        }
    ).CELERY
    assert rabbit["broker_url"] == "amqp://mq1//;amqp://mq2//"
    assert "master_name" not in rabbit["broker_transport_options"]
    assert rabbit["result_backend_transport_options"]["master_name"] == "m"


def test_rabbitmq_gets_a_quorum_queue_confirms_and_a_dead_letter_queue_by_default():
    config = load_config({"CELERY_BROKER_URL": "amqp://mq1//;amqp://mq2//"})
    celery = config.CELERY
    [queue] = celery["task_queues"]

    assert celery["task_default_queue_type"] == "quorum"
    assert celery["broker_transport_options"]["confirm_publish"] is True
    assert celery["worker_cancel_long_running_tasks_on_connection_loss"] is True
    assert celery["worker_consumer"] == "project.delayed_delivery:Consumer"
    assert queue.exchange.type == "topic"  # native delayed delivery needs it
    assert queue.queue_arguments["x-queue-type"] == "quorum"
    assert queue.queue_arguments["x-delivery-limit"] == 10
    assert queue.queue_arguments["x-dead-letter-exchange"] == "celery.dead"

    classic = load_config({"CELERY_BROKER_URL": "amqp://mq//", "CELERY_QUEUE_TYPE": "classic"})
    [queue] = classic.CELERY["task_queues"]
    assert queue.queue_arguments == {"x-queue-type": "classic"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"APP_CONFIG": "staging"}, "APP_CONFIG must be one of"),
        ({"REDIS_SENTINELS": "s1:26379"}, "REDIS_SENTINELS needs REDIS_SENTINEL_MASTER"),
        ({"REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINEL_MASTER needs REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "s1", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS must be"),
        ({"REDIS_CLUSTER_NODES": "n1:70000"}, "REDIS_CLUSTER_NODES must be host:port"),
        ({"CELERY_QUEUE_TYPE": "stream"}, "CELERY_QUEUE_TYPE must be 'classic' or 'quorum'"),
        ({"CELERY_QUEUE_TYPE": "quorum"}, "CELERY_QUEUE_TYPE=quorum needs an amqp://"),
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
