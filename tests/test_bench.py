"""The benchmark's code runs on tiny inputs, so it cannot rot. It asserts no timing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_profile_script_runs_and_reports_both_paths():
    done = subprocess.run(
        [sys.executable, "-m", "bench.profile", "20"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr
    assert "=== POST /users/sms/<mobile>:" in done.stdout
    assert "=== send task body:" in done.stdout
    assert "issue_code" in done.stdout


@pytest.mark.slow
def test_bench_quick_runs_every_measurement_and_writes_its_figures(tmp_path):
    if shutil.which("wrk") is None:
        pytest.skip("WRK NOT AVAILABLE: install Debian's wrk (make test does so as root)")
    output = tmp_path / "bench.json"

    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "web: send / floor" in done.stdout
    results = json.loads(output.read_text())
    assert results["web"]["send"]["requests"] > 0
    assert results["web"]["send"]["non_2xx"] == 0
    assert {run["pool"] for run in results["worker_io"]} == {"threads", "gevent", "prefork"}
    assert results["worker_cpu"]["ratio"] > 0
    e2e = results["end_to_end"]
    assert (e2e["lost"], e2e["duplicated"]) == (0, 0)
    assert e2e["burst"]["answered_200"] == e2e["burst"]["mobiles"]
    assert e2e["burst"]["duplicated"] == 0
    assert set(results["refusals"]) == {"captcha_required", "cooldown", "per_ip_limit", "budget"}
    assert all(r["requests"] > 0 and r["non_2xx"] > 0 for r in results["refusals"].values())
    flood = results["flood"]
    assert flood["attack_requests"] > 0 and flood["user_ok"] == flood["user_tries"] > 0
    assert flood["sms_sent"] == flood["codes_issued"]
