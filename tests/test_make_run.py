"""`make run` from a fresh copy: one command brings up the whole service, Ctrl-C takes it down."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from tools.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent


def fresh_copy(dest: Path) -> Path:
    """The tree as a clone would have it: tracked and new files, nothing ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in listed:
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def processes_in(folder: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cwd"]):
        cwd = proc.info.get("cwd") or ""
        if cwd.startswith(str(folder)):
            found.append(proc)
    return found


@pytest.mark.slow
def test_make_run_serves_a_code_and_ctrl_c_leaves_nothing_behind(tmp_path):
    if shutil.which("make") is None or shutil.which("git") is None:
        pytest.skip("make run needs make and git")
    tree = fresh_copy(tmp_path / "clone")
    port = free_port()
    log_path = tmp_path / "make-run.log"
    env = {
        **os.environ,
        "PORT": str(port),
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # answers not: a private Redis
    }
    env.pop("APP_CONFIG", None)
    with open(log_path, "wb") as log:
        make = subprocess.Popen(
            ["make", "run", f"VENV={Path(sys.prefix)}"],
            cwd=tree,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert make.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.3)

        output = log_path.read_text()
        assert f"http://127.0.0.1:{port}/" in output
        assert "started a private one" in output
        # The worker may still be connecting; the send waits in the queue for it.
        answer = requests.post(f"http://127.0.0.1:{port}/users/sms/13912345678", timeout=5)
        assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 60
        while "SMS to 139****5678: code " not in log_path.read_text():
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.3)
        assert "13912345678" not in log_path.read_text()
    finally:
        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        try:
            make.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
        time.sleep(0.5)
        leftovers = processes_in(tree)
        for proc in leftovers:
            proc.kill()
    assert leftovers == [], [p.cmdline() for p in leftovers]
