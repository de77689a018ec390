"""The Prometheus alert rules in deploy/prometheus pass promtool, and name metrics we serve."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parent.parent / "deploy" / "prometheus"


@pytest.fixture
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        reason = (
            "PROMTOOL NOT AVAILABLE: install Debian's prometheus package (make test does so "
            "as root); the alert rules are not checked"
        )
        warnings.warn(reason, stacklevel=1)
        pytest.skip(reason)
    return path


def test_the_rules_pass_promtool_check(promtool):
    done = subprocess.run(
        [promtool, "check", "rules", "sms-alerts.yml"],
        cwd=RULES,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 2 rules found" in done.stdout


def test_the_alerts_fire_when_the_gauges_say_so(promtool):
    done = subprocess.run(
        [promtool, "test", "rules", "sms-alerts.test.yml"],
        cwd=RULES,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rules_name_only_metrics_that_metrics_serves(client):
    served = client.get("/metrics").get_data(as_text=True)
    named = set(re.findall(r"\bsms_[a-z_]+\b", (RULES / "sms-alerts.yml").read_text()))

    assert named
    for name in named:
        assert re.search(rf"^{name}(\{{| )", served, re.MULTILINE), name
