"""Operations: beat, shared metrics, readiness, celery multi, JSON logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests
from prometheus_client.parser import text_string_to_metric_families

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
MOBILE = "13812345678"


def scrape(web: str) -> dict[str, float]:
    answer = requests.get(f"{web}/metrics", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_beat_runs_the_scheduled_queue_check(start_beat, start_worker):
    fast = {"SMS_QUEUE_CHECK_INTERVAL": "1"}
    worker = start_worker(env=fast, pool="threads")
    beat = start_beat(env=fast)

    beat.wait_for_output("Sending due task check-send-queue")
    worker.wait_for_output("send queue ok: 0 waiting")


def test_the_queue_check_warns_when_sends_back_up(app, redis_url, caplog):
    from project.codes import issue_code
    from project.periodic import check_send_queue

    app.config["SMS_QUEUE_WARN_DEPTH"] = 2
    with app.app_context():
        for n in range(3):
            issue_code(f"1390000000{n}")
        check_send_queue.run()

    assert "send queue backing up: 3 waiting" in caplog.text


def test_metrics_are_shared_by_every_web_process_and_move_with_sends(start_web, start_worker, sim):
    start_worker(pool="threads")
    web = start_web(workers=2, threads=1)
    before = scrape(web)
    assert before["sms_codes_issued_total"] == 0

    for n in range(4):
        assert requests.post(f"{web}/users/sms/1390000000{n}", timeout=5).status_code == 200
    requests.post(f"{web}/users/sms/13900000000", timeout=5)  # cooldown
    sim.wait_for(4)
    time.sleep(0.3)

    scrapes = [scrape(web) for _ in range(8)]  # new connections: either worker answers
    for after in scrapes:
        assert after["sms_codes_issued_total"] == 4
        assert after["sms_codes_requested_total"] == 5
        assert after["sms_cooldown_refusals_total"] == 1
        assert after["sms_sends_succeeded_total"] == 4
        assert after["sms_queue_depth"] == 0


def test_readyz_turns_503_naming_redis_when_it_stops(start_web, redis_server):
    web = start_web()
    assert requests.get(f"{web}/readyz", timeout=5).status_code == 200

    redis_server.stop()
    try:
        answer = requests.get(f"{web}/readyz", timeout=10)
    finally:
        redis_server.start()

    assert answer.status_code == 503
    assert "redis" in answer.json()["failed"]
    assert requests.get(f"{web}/healthz", timeout=5).status_code == 200


def test_celery_multi_starts_a_daemon_that_delivers_and_stops(app, settings, sim, tmp_path):
    env = {**os.environ, **settings}
    pidfile, logfile = tmp_path / "%n.pid", tmp_path / "%n%I.log"
    common = ["-A", "celery_worker.celery", f"--pidfile={pidfile}", f"--logfile={logfile}"]

    def multi(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "celery"), "multi", *args, "w1", *common],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    started = multi("start", "--pool=threads", "-l", "info")
    assert started.returncode == 0, started.stderr
    try:
        pid_path = tmp_path / "w1.pid"
        deadline = time.monotonic() + 20
        while not pid_path.exists():
            assert time.monotonic() < deadline, "no pidfile"
            time.sleep(0.1)
        pid = int(pid_path.read_text())
        assert psutil.pid_exists(pid)

        with app.app_context():
            from project.codes import issue_code

            issue_code(MOBILE)
        assert len(sim.wait_for(1, timeout=30)) == 1
    finally:
        stopped = multi("stopwait")
    assert stopped.returncode == 0, stopped.stderr
    assert not pid_path.exists()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    leftovers = [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(tmp_path) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []


def test_json_logs_every_worker_line_during_a_send_is_json(start_worker, app, sim):
    worker = start_worker(env={"LOG_FORMAT": "json"}, pool="threads")
    offset = len(worker.output())

    with app.app_context():
        from project.codes import issue_code

        issue_code(MOBILE)
    sim.wait_for(1)
    worker.wait_for_output("SMS sent to", after=offset)
    time.sleep(0.3)

    lines = [line for line in worker.output()[offset:].splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # raises on any non-JSON line
    assert {"time", "level", "logger", "message"} <= set(records[0])
    sent = next(r for r in records if r["message"].startswith("SMS sent to"))
    assert sent["mobile"] == "138****5678"
    assert sent["task_id"]
    assert MOBILE not in worker.output()
