"""The processes a measurement needs: private Redis, the simulator, gunicorn, workers."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import psutil
import redis
import requests

from tools.redis_server import RedisServer, free_port
from tools.services import Service, celery_worker, gunicorn

ACC = {
    "RONGLIAN_ACC_ID": "bench-acc",
    "RONGLIAN_ACC_TOKEN": "bench-token",
    "RONGLIAN_APP_ID": "bench-app",
}


class Stack:
    """Everything is started here and stopped by ``close()``."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sms-bench-"))
        self.redis_server = RedisServer().start()
        self.redis = redis.Redis.from_url(self.redis_server.url)
        self.sim_port = free_port()
        self.sim = Service(
            "simulator",
            [
                sys.executable,
                "-m",
                "tools.ronglian_sim",
                "--port",
                str(self.sim_port),
                "--acc-id",
                ACC["RONGLIAN_ACC_ID"],
                "--acc-token",
                ACC["RONGLIAN_ACC_TOKEN"],
                "--app-id",
                ACC["RONGLIAN_APP_ID"],
            ],
            {},
            self.dir,
        ).start()
        self.sim.wait_for_output("RongLian simulator on")
        self.services: list[Service] = [self.sim]
        self.settings = {
            "APP_CONFIG": "production",
            "SECRET_KEY": "bench-secret-not-secret-but-long-enough-for-production",
            "REDIS_URL": self.redis_server.url,
            "SMS_PROVIDER": "ronglian",
            **ACC,
            "RONGLIAN_BASE_URL": f"http://127.0.0.1:{self.sim_port}",
            "RATELIMIT_SMS_PER_IP": "100000000 per minute",
            # wrk sends every code from one address: the issued path is
            # measured without the captcha (bench/abuse.py measures it).
            "SMS_CAPTCHA": "off",
            "GUNICORN_ACCESS_LOG": "",
        }

    # ----- the simulator, over its control API -------------------------------
    def sim_reset(self, delay: float = 0.0) -> None:
        base = f"http://127.0.0.1:{self.sim_port}/_sim"
        requests.post(f"{base}/reset", json={}, timeout=5)
        requests.post(f"{base}/script", json={"delay": delay}, timeout=5)

    def sim_messages(self) -> list[dict]:
        return requests.get(f"http://127.0.0.1:{self.sim_port}/_sim/messages", timeout=30).json()

    # ----- processes --------------------------------------------------------------
    def web(self, workers: int = 4, threads: int = 4, **env: str) -> str:
        port = free_port()
        service = gunicorn(
            {**self.settings, **env}, port, self.dir, workers=workers, threads=threads
        ).start()
        self.services.append(service)
        service.wait_for_http(f"http://127.0.0.1:{port}/healthz")
        return f"http://127.0.0.1:{port}"

    def worker(
        self,
        pool: str,
        concurrency: int,
        app: str = "celery_worker.celery",
        name: str = "worker",
        **env: str,
    ) -> Service:
        service = celery_worker(
            {**self.settings, **env},
            self.dir,
            pool=pool,
            concurrency=concurrency,
            name=name,
            app=app,
        ).start()
        self.services.append(service)
        service.wait_for_output(" ready.", timeout=60)
        return service

    def stop(self, service: Service) -> None:
        service.stop()
        self.services.remove(service)

    def flush(self) -> None:
        self.redis.flushall()

    def close(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.redis_server.cleanup()


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children."""
    root = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)])


def tree_rss(pid: int) -> int:
    """Resident memory of a process and its children, in bytes."""
    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
    except psutil.NoSuchProcess:
        return 0


def wait_until(check, timeout: float, interval: float = 0.005) -> float:
    """Poll ``check`` until true; the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)
    return time.monotonic()
