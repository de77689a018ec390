"""A private, throw-away RabbitMQ node on free ports, for the broker tests.

It runs the system's ``rabbitmq-server`` (Debian's package) with its own
node name, data folder and configuration, so it neither needs nor touches a
RabbitMQ the machine may already run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from kombu import Connection

from tools.redis_server import free_port
from tools.services import Service

CANDIDATES = ("/usr/lib/rabbitmq/bin/rabbitmq-server", "rabbitmq-server")


def rabbitmq_binary() -> str | None:
    for candidate in CANDIDATES:
        found = shutil.which(candidate) if "/" not in candidate else candidate
        if found and os.access(found, os.X_OK):
            return found
    return None


def answers(url: str, timeout: float = 1.0) -> bool:
    try:
        with Connection(url, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        return True
    except Exception:
        return False


class RabbitMQServer:
    """One node; ``cookie`` and ``erl_args`` are for nodes that form a cluster."""

    def __init__(self, cookie: str | None = None, erl_args: str = "") -> None:
        self.port = free_port()
        self.dist_port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="sms-rabbitmq-"))
        self.node = f"sms-test-{self.port}@localhost"
        self.cookie = cookie
        self.erl_args = erl_args
        self.service: Service | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @property
    def env(self) -> dict[str, str]:
        """The node's environment: its server and ``rabbitmqctl`` both use it."""
        return {
            "HOME": str(self.dir),  # holds .erlang.cookie
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "env.conf"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_PID_FILE": str(self.dir / "rabbitmq.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": self.erl_args,
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """``rabbitmqctl -n <this node> ARGS``; its output, or RuntimeError."""
        ctl = str(Path(rabbitmq_binary() or "").with_name("rabbitmqctl"))
        result = subprocess.run(
            [ctl, "-n", self.node, *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stderr or result.stdout}")
        return result.stdout

    def start(self, timeout: float = 90.0) -> RabbitMQServer:
        binary = rabbitmq_binary()
        if binary is None:
            raise RuntimeError("rabbitmq-server is not installed")
        if not (self.dir / "rabbitmq.conf").exists():
            self._write_files()
        self.service = Service("rabbitmq", [binary], self.env, self.dir).start()
        deadline = time.monotonic() + timeout
        while not answers(self.url, 1.0):
            if self.service.process.poll() is not None or time.monotonic() > deadline:
                output = self.service.output()[-2000:]
                self.stop()
                raise RuntimeError(f"rabbitmq-server did not start:\n{output}")
            time.sleep(0.5)
        return self

    def _write_files(self) -> None:
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n"
            "log.console = false\n"
        )
        (self.dir / "enabled_plugins").write_text("[].\n")
        (self.dir / "env.conf").write_text("")
        if self.cookie:
            cookie = self.dir / ".erlang.cookie"
            cookie.write_text(self.cookie)
            cookie.chmod(0o400)

    def kill(self) -> None:
        """SIGKILL the whole node, as a crashed host would; ``start()`` brings it back."""
        if self.service is not None:
            self.service.signal(signal.SIGKILL)
            self.service.process.wait()

    def restart(self) -> None:
        """Stop and start the node on the same port: every open connection dies."""
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop(timeout=30)
            self.service = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
