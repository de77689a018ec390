"""deploy/prometheus/: promtool accepts each rule file, its alerts fire when they should, and
it names only metrics that /metrics serves (a renamed metric breaks this test, not the pager)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import skip_loudly

RULES = Path(__file__).resolve().parent.parent / "deploy" / "prometheus"
# Each rule file, with its unit tests beside it, and how many rules it holds.
FILES = {"sms-alerts.yml": 2, "sms-operations.yml": 6}


@pytest.fixture
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        reason = (
            "PROMTOOL NOT AVAILABLE: install Debian's prometheus package (make test does so "
            "as root); the alert rules are not checked"
        )
        skip_loudly(reason)
    return path


def run(promtool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], cwd=RULES, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("name", "count"), FILES.items())
def test_promtool_accepts_the_rules(promtool, name, count):
    done = run(promtool, "check", "rules", name)

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {count} rules found" in done.stdout


@pytest.mark.parametrize("name", FILES)
def test_each_alert_fires_when_it_should_and_not_before(promtool, name):
    done = run(promtool, "test", "rules", name.replace(".yml", ".test.yml"))

    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", FILES)
def test_the_rules_name_only_metrics_that_metrics_serves(client, name):
    client.post("/users/sms/13812345678")  # so that every counter exists
    served = client.get("/metrics").get_data(as_text=True)
    named = set(re.findall(r"\bsms_[a-z_]+\b", (RULES / name).read_text()))

    assert named
    for metric in named:
        assert re.search(rf"^{metric}(\{{| )", served, re.MULTILINE), metric


@pytest.mark.parametrize("name", FILES)
def test_the_operations_guide_explains_every_alert(name):
    guide = (RULES.parent.parent / "docs" / "operations.md").read_text()
    for alert in re.findall(r"- alert: (\w+)", (RULES / name).read_text()):
        assert alert in guide, f"docs/operations.md does not say what to do on {alert}"
