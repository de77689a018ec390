"""`flask --app wsgi sms check`: the operator's first command when something is wrong."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import ACC_TOKEN

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "check-test-secret-key-0123456789"
BACKEND_PASSWORD = "backend-password-42"


def sms_check(settings: dict[str, str], **extra: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **settings,
        "SECRET_KEY": SECRET_KEY,
        "CELERY_RESULT_BACKEND": f"redis://:{BACKEND_PASSWORD}@127.0.0.1:6399/1",
        **extra,
    }
    flask = Path(sys.executable).parent / "flask"
    return subprocess.run(
        [str(flask), "--app", "wsgi", "sms", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def checks(output: str) -> dict[str, str]:
    """``{"redis": "ok ...", ...}`` from the checks section."""
    section = output.split("checks:\n")[1].split("alarms:\n")[0]
    return dict(line.split(None, 1) for line in section.splitlines())


def assert_no_secrets(output: str) -> None:
    for secret in (SECRET_KEY, ACC_TOKEN, BACKEND_PASSWORD):
        assert secret not in output


def test_a_healthy_stack_says_so_and_exits_0(settings, sim):
    result = sms_check(settings)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "verdict: HEALTHY"
    found = checks(result.stdout)
    assert found["redis"].startswith("ok")
    assert found["broker"].startswith("ok")
    assert found["provider"].startswith("ok") and urlsplit(sim.url).netloc in found["provider"]
    assert found["queue"] == "ok    0 sends waiting, oldest unknown"
    assert "alarms:\n  none\n" in result.stdout
    # The settings as the app sees them, secrets masked.
    assert "RONGLIAN_ACC_TOKEN" in result.stdout and "SECRET_KEY" in result.stdout
    assert "redis://:****@127.0.0.1:6399/1" in result.stdout
    assert re.search(r"\n  SMS_CODE_TTL +300\n", result.stdout)
    assert_no_secrets(result.stdout + result.stderr)


def test_redis_stopped_is_named_in_the_verdict_and_exits_1(settings, redis_server):
    redis_server.stop()

    result = sms_check(settings)

    assert result.returncode == 1
    verdict = result.stdout.splitlines()[-1]
    assert verdict.startswith("verdict: NOT HEALTHY: ")
    assert "redis does not answer" in verdict and "broker does not answer" in verdict
    found = checks(result.stdout)
    assert found["redis"].startswith("FAIL") and found["queue"].startswith("FAIL")
    assert found["provider"].startswith("ok")  # the simulator still answers
    assert "Traceback" not in result.stdout + result.stderr
    assert_no_secrets(result.stdout + result.stderr)


def test_a_provider_host_that_does_not_answer_fails_the_check(settings, unused_port):
    result = sms_check(settings, RONGLIAN_BASE_URL=f"http://127.0.0.1:{unused_port}")

    assert result.returncode == 1
    assert checks(result.stdout)["provider"].startswith("FAIL")
    assert "provider does not answer (ronglian" in result.stdout.splitlines()[-1]


def test_a_backed_up_queue_is_an_alarm(settings, client):
    assert client.post("/users/sms/13812345678").status_code == 200  # no worker: it waits

    result = sms_check(settings, SMS_QUEUE_WARN_DEPTH="0")

    assert result.returncode == 1
    assert checks(result.stdout)["queue"].startswith("ok    1 sends waiting")
    assert "send queue backing up: 1 waiting" in result.stdout.split("alarms:\n")[1]
    assert result.stdout.splitlines()[-1].startswith("verdict: NOT HEALTHY: send queue")
