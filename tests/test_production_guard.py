"""APP_CONFIG=production refuses to start on unsafe settings: one line, non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, load_config
from tests.conftest import ACC_ID, ACC_TOKEN, APP_ID

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
SAFE = {
    "APP_CONFIG": "production",
    "SECRET_KEY": "a-real-secret-of-at-least-32-characters",
    "SMS_PROVIDER": "ronglian",
    "RONGLIAN_ACC_ID": ACC_ID,
    "RONGLIAN_ACC_TOKEN": ACC_TOKEN,
    "RONGLIAN_APP_ID": APP_ID,
}
UNSAFE = [
    ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
    ({"SMS_PROVIDER": "console"}, "SMS_PROVIDER=console"),
    ({"SMS_PROVIDER": ""}, "RONGLIAN_ACC_ID"),  # production defaults to ronglian
    ({"RONGLIAN_ACC_TOKEN": ""}, "needs RONGLIAN_ACC_TOKEN"),
    ({"RONGLIAN_APP_ID": ""}, "needs RONGLIAN_APP_ID"),
    ({"SECRET_KEY": "change-me-to-a-long-random-string"}, "SECRET_KEY is a published placeholder"),
    ({"SECRET_KEY": "dev-only-not-secret"}, "SECRET_KEY is a published placeholder"),
    ({"SECRET_KEY": "too-short-a-key"}, "SECRET_KEY must be at least 32 characters"),
    ({"SECRET_KEY_FALLBACKS": "short"}, "SECRET_KEY_FALLBACKS must be at least 32"),
    ({"RATELIMIT_SMS_PER_IP": "5/min"}, "RATELIMIT_SMS_PER_IP is not a rate limit"),
    ({"RATELIMIT_VERIFY_PER_IP": "twenty a minute"}, "RATELIMIT_VERIFY_PER_IP is not a rate limit"),
]
COMMANDS = {
    "gunicorn": [str(BIN / "gunicorn"), "wsgi:app", "--bind", "127.0.0.1:0"],
    "worker": [str(BIN / "celery"), "-A", "celery_worker.celery", "worker", "-l", "info"],
    "beat": [str(BIN / "celery"), "-A", "celery_worker.celery", "beat", "-l", "info"],
}


def test_safe_production_settings_load():
    assert load_config(SAFE).NAME == "production"
    console = load_config({**SAFE, "SMS_PROVIDER": "console", "SMS_ALLOW_CONSOLE": "1"})
    assert console.SMS_PROVIDER == "console"


@pytest.mark.parametrize(("change", "message"), UNSAFE)
def test_unsafe_production_settings_are_refused(change, message):
    env = {**SAFE, **change}
    if change == {"SMS_PROVIDER": ""}:
        env = {k: v for k, v in env.items() if not k.startswith("RONGLIAN_")}
    with pytest.raises(ConfigError, match=message):
        load_config(env)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(("change", "message"), [UNSAFE[0], UNSAFE[1], UNSAFE[5], UNSAFE[9]])
def test_each_process_refuses_to_start_with_one_line(command, change, message):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RONGLIAN_", "SMS_"))}
    env.update({**SAFE, **change})

    done = subprocess.run(
        COMMANDS[command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode != 0
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert message in lines[0]


def test_the_placeholder_key_of_the_example_env_file_is_refused():
    example = (ROOT / "deploy" / "sms.env.example").read_text()
    [placeholder] = [
        line.split("=", 1)[1] for line in example.splitlines() if line.startswith("SECRET_KEY=")
    ]
    with pytest.raises(ConfigError, match="placeholder"):
        load_config({**SAFE, "SECRET_KEY": placeholder})


@pytest.mark.parametrize("name", ["RATELIMIT_SMS_PER_IP", "RATELIMIT_VERIFY_PER_IP"])
def test_a_malformed_limit_refuses_to_start_in_every_config(name):
    for config in ("development", "testing", "production"):
        with pytest.raises(ConfigError, match=name):
            load_config({**SAFE, "APP_CONFIG": config, name: "5/min"})


def test_a_code_ttl_too_short_for_redelivery_is_refused_naming_the_settings():
    with pytest.raises(ConfigError, match=r"SMS_CODE_TTL \(15 s\) is too short.*VISIBILITY"):
        load_config({**SAFE, "SMS_CODE_TTL": "15"})
    # Lowering the provider's deadline makes room for a shorter code life.
    assert load_config({**SAFE, "SMS_CODE_TTL": "15", "SMS_PROVIDER_TIMEOUT": "2"})
