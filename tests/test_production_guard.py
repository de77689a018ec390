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
    "SECRET_KEY": "a-real-secret",
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
@pytest.mark.parametrize(("change", "message"), [UNSAFE[0], UNSAFE[1], UNSAFE[3]])
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
