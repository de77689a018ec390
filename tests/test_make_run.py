"""`make run` from a fresh copy: one command brings up the whole service on a Redis it
owns (or the one REDIS_URL names), Ctrl-C takes it down."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import redis
import requests

from tools.redis_server import RedisServer, free_port

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


def make_run(tree: Path, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """``make run`` on the shared virtualenv (``-o``: its install step is not redone)."""
    venv = Path(sys.prefix)
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            ["make", "run", f"VENV={venv}", "-o", str(venv / ".runtime")],
            cwd=tree,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def redis_ports_used(pid: int) -> set[int]:
    """Remote ports of every TCP connection held by the processes under ``pid``."""
    ports = set()
    for proc in descendants(pid):
        try:
            ports |= {c.raddr.port for c in proc.net_connections("tcp") if c.raddr}
        except psutil.Error:
            continue
    return ports


@pytest.fixture
def decoy_6379():
    """The Redis a developer's machine may have on 6379; never to be used by ``make run``.

    If one answers already (it belongs to someone else) it is only watched,
    never written; otherwise a private one is started there for the test.
    """
    with socket.socket() as sock:
        taken = sock.connect_ex(("127.0.0.1", 6379)) == 0
    if taken:
        yield None
        return
    with RedisServer(port=6379) as server:
        yield server


@pytest.mark.slow
def test_make_run_serves_on_its_own_redis_even_with_one_on_6379(tmp_path, decoy_6379):
    if shutil.which("make") is None or shutil.which("git") is None:
        pytest.skip("make run needs make and git")
    tree = fresh_copy(tmp_path / "clone")
    port = free_port()
    log_path = tmp_path / "make-run.log"
    env = {**os.environ, "PORT": str(port)}
    for name in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "APP_CONFIG"):
        env.pop(name, None)
    make = make_run(tree, env, log_path)
    servers: list[psutil.Process] = []
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
        banner = re.search(r"Redis: +redis://127\.0\.0\.1:(\d+)/0 +\(private redis-server", output)
        assert banner, output
        redis_port = int(banner[1])
        assert redis_port != 6379
        assert f"Broker: redis://127.0.0.1:{redis_port}/0" in output
        # The Redis it serves on is its own child, listening on the port it named.
        servers = [p for p in descendants(make.pid) if p.name() == "redis-server"]
        assert [c.laddr.port for s in servers for c in s.net_connections("tcp") if not c.raddr] == [
            redis_port
        ]

        # The worker may still be connecting; the send waits in the queue for it.
        answer = requests.post(f"http://127.0.0.1:{port}/users/sms/13912345678", timeout=5)
        assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 60
        while "SMS to 139****5678: code " not in log_path.read_text():
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.3)
        assert "13912345678" not in log_path.read_text()
        used = redis_ports_used(make.pid)
        assert redis_port in used
        assert 6379 not in used
        if decoy_6379 is not None:
            assert redis.Redis.from_url(decoy_6379.url).dbsize() == 0
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
    assert all(not s.is_running() for s in servers)


def test_make_run_with_a_redis_url_that_does_not_answer_stops_naming_it(tmp_path):
    if shutil.which("make") is None or shutil.which("git") is None:
        pytest.skip("make run needs make and git")
    tree = fresh_copy(tmp_path / "clone")
    closed = free_port()
    log_path = tmp_path / "make-run.log"
    env = {**os.environ, "REDIS_URL": f"redis://:hunter2@127.0.0.1:{closed}/0"}
    make = make_run(tree, env, log_path)
    try:
        make.wait(10)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
    output = log_path.read_text()

    assert make.returncode != 0
    assert f"no Redis answers at REDIS_URL=redis://:**@127.0.0.1:{closed}/0" in output
    assert "hunter2" not in output
    assert "redis-server" not in output and "SMS service" not in output  # no fallback
    assert processes_in(tree) == []
