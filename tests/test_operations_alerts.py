"""deploy/prometheus/sms-operations.yml: promtool accepts it, its alerts fire when they
should, and it names only metrics that /metrics serves (a renamed metric breaks this test,
not the pager)."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parent.parent / "deploy" / "prometheus"
FILE = "sms-operations.yml"


@pytest.fixture
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        reason = (
            "PROMTOOL NOT AVAILABLE: install Debian's prometheus package (make test does so "
            "as root); the operations alert rules are not checked"
        )
        warnings.warn(reason, stacklevel=1)
        pytest.skip(reason)
    return path


def run(promtool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], cwd=RULES, capture_output=True, text=True, timeout=60)


def test_promtool_accepts_the_rules(promtool):
    done = run(promtool, "check", "rules", FILE)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 6 rules found" in done.stdout


def test_each_alert_fires_when_it_should_and_not_before(promtool):
    done = run(promtool, "test", "rules", "sms-operations.test.yml")

    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rules_name_only_metrics_that_metrics_serves(client):
    client.post("/users/sms/13812345678")  # so that every counter exists
    served = client.get("/metrics").get_data(as_text=True)
    named = set(re.findall(r"\bsms_[a-z_]+\b", (RULES / FILE).read_text()))

    assert len(named) >= 6
    for name in named:
        assert re.search(rf"^{name}(\{{| )", served, re.MULTILINE), name


def test_the_operations_guide_explains_every_alert():
    guide = (RULES.parent.parent / "docs" / "operations.md").read_text()
    for alert in re.findall(r"- alert: (\w+)", (RULES / FILE).read_text()):
        assert alert in guide, f"docs/operations.md does not say what to do on {alert}"
