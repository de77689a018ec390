"""Start the real processes (gunicorn, Celery worker and beat) for tests and the benchmark.

Each runs in its own session with its output in a log file, so a test can
read exactly what an operator would see, and stopping it stops its children.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


class Service:
    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_dir: Path) -> None:
        self.name, self.argv = name, argv
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        self.log_path = Path(log_dir) / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_output(self, text: str, timeout: float = 30.0, after: int = 0) -> None:
        """Wait until ``text`` appears in the log (past byte ``after``)."""
        deadline = time.monotonic() + timeout
        while text not in self.output()[after:]:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: no {text!r} in:\n{self.output()[-3000:]}")
            time.sleep(0.1)

    def wait_for_http(self, url: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get(url, timeout=1)
                return
            except requests.RequestException:
                if self.process and self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited:\n{self.output()[-3000:]}") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name} never answered {url}") from None
                time.sleep(0.1)

    def signal(self, sig: int) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the whole process group, SIGKILL it if it lingers."""
        if not self.process:
            return None
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait()
        with contextlib.suppress(ProcessLookupError):  # children that outlived the leader
            os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.returncode


def gunicorn(
    env: Mapping[str, str],
    port: int,
    log_dir: Path,
    workers: int | None = 2,
    threads: int | None = 4,
    extra: list[str] | None = None,
) -> Service:
    """``gunicorn wsgi:app``; ``workers``/``threads`` None leave gunicorn.conf.py's defaults."""
    sizes = [("--workers", workers), ("--threads", threads)]
    argv = [
        str(BIN / "gunicorn"),
        "wsgi:app",
        "--bind",
        f"127.0.0.1:{port}",
        *[part for flag, value in sizes if value is not None for part in (flag, str(value))],
        *(extra or []),
    ]
    return Service(f"gunicorn-{port}", argv, env, log_dir)


def _celery(app: str, command: str, *args: str) -> list[str]:
    """``celery -A <app> <command> ...`` from this virtualenv."""
    return [str(BIN / "celery"), "-A", app, command, *args]


def celery_worker(
    env: Mapping[str, str],
    log_dir: Path,
    pool: str = "prefork",
    concurrency: int = 2,
    name: str = "worker",
    extra: list[str] | None = None,
    app: str = "celery_worker.celery",
) -> Service:
    argv = _celery(
        app,
        "worker",
        "-l",
        "info",
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--without-gossip",
        "--without-mingle",
        "--hostname",
        f"{name}@%h",
        *(extra or []),
    )
    return Service(name, argv, env, log_dir)


def celery_beat(env: Mapping[str, str], log_dir: Path, name: str = "beat") -> Service:
    """``celery -A celery_worker.celery beat`` as the README gives it (the scheduler,
    celery-redbeat, comes from the settings)."""
    argv = _celery("celery_worker.celery", "beat", "-l", "info")
    return Service(name, argv, env, log_dir)


def flower(
    env: Mapping[str, str],
    port: int,
    log_dir: Path,
    extra: list[str] | None = None,
    app: str = "celery_worker.celery",
) -> Service:
    """``celery flower`` (requirements-ops.txt) on 127.0.0.1:``port``: what ``make flower`` runs."""
    argv = _celery(app, "flower", "--address=127.0.0.1", f"--port={port}", *(extra or []))
    return Service(f"flower-{port}", argv, env, log_dir)
