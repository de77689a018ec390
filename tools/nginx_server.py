"""A private ``nginx`` running the shipped ``deploy/nginx.conf`` on a free port.

The site file is used as shipped; only its ``listen``, its upstream's address
and its log paths are swapped for the private instance's, and a small main
configuration around it keeps the pid file and temp files in one directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tools.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "deploy" / "nginx.conf"
SHIPPED_LISTEN = "listen 80;"
SHIPPED_UPSTREAM = "server 127.0.0.1:8000;"
SHIPPED_LOG_DIR = "/var/log/nginx/"


def nginx_binary() -> str | None:
    for candidate in ("/usr/sbin/nginx", shutil.which("nginx")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def site_config(upstream: str, port: int, log_dir: Path) -> str:
    """``deploy/nginx.conf`` pointed at ``upstream`` (host:port), listening on ``port``."""
    text = SITE.read_text()
    for shipped in (SHIPPED_LISTEN, SHIPPED_UPSTREAM, SHIPPED_LOG_DIR):
        if shipped not in text:
            raise RuntimeError(f"deploy/nginx.conf no longer has {shipped!r}")
    return (
        text.replace(SHIPPED_LISTEN, f"listen 127.0.0.1:{port};")
        .replace(SHIPPED_UPSTREAM, f"server {upstream};")
        .replace(SHIPPED_LOG_DIR, f"{log_dir}/")
    )


class NginxServer:
    """``start()`` / ``stop()``; ``url`` is where it listens."""

    def __init__(self, upstream: str, directory: Path | None = None) -> None:
        self.port = free_port()
        self.dir = Path(directory or tempfile.mkdtemp(prefix="sms-nginx-"))
        self.upstream = upstream
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.dir / "sms.access.log"

    @property
    def error_log(self) -> Path:
        return self.dir / "sms.error.log"

    def write_config(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "sms.conf").write_text(site_config(self.upstream, self.port, self.dir))
        temp = "\n".join(
            f"    {kind}_temp_path {self.dir}/{kind}_temp;"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # As root, nginx's workers would drop to "nobody", who cannot enter a
        # private temp directory.
        user = "user root;\n" if os.geteuid() == 0 else ""
        main = (
            f"{user}worker_processes 1;\npid {self.dir}/nginx.pid;\n"
            f"error_log {self.dir}/main.error.log;\n"
            "events { worker_connections 256; }\n"
            f"http {{\n{temp}\n    access_log off;\n    include {self.dir}/sms.conf;\n}}\n"
        )
        path = self.dir / "nginx.conf"
        path.write_text(main)
        return path

    def start(self, timeout: float = 10.0) -> NginxServer:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed")
        conf = self.write_config()
        argv = [binary, "-p", str(self.dir), "-c", str(conf), "-e", str(self.dir / "stderr.log")]
        check = subprocess.run([*argv, "-t"], capture_output=True, text=True)
        if check.returncode:
            raise RuntimeError(f"nginx -t refused the configuration:\n{check.stderr}")
        self.process = subprocess.Popen(
            [*argv, "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:  # a bare connect: a request would reach the upstream and its log
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("nginx did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def __enter__(self) -> NginxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
