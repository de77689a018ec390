"""Each measurement of ``make bench``; every figure is paired with its floor."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.stack import Stack, tree_cpu, tree_rss, wait_until
from project import create_app
from tools.services import Service

HERE = Path(__file__).resolve().parent
E2E_CONCURRENCY = 16


def _wrk(url: str, seconds: float, connections: int, *args: str) -> dict:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk; `make bench` tries)")
    command = [
        wrk,
        "-t2",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        str(HERE / "wrk.lua"),
        url,
        "--",
        *args,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    count, duration_us, non_2xx, socket_errors, p50_us, p99_us = map(int, line.split()[1:])
    return {
        "requests": count,
        "rps": count / (duration_us / 1e6),
        "non_2xx": non_2xx,
        "socket_errors": socket_errors,
        "p50_ms": p50_us / 1000,
        "p99_ms": p99_us / 1000,
    }


ROUNDS = 3  # each web measurement is repeated; the median is reported, with the spread


def spread(runs: list[dict]) -> dict:
    """The median of each figure over the rounds, with its [min, max] under ``spread``."""
    keys = [k for k, v in runs[0].items() if isinstance(v, int | float)]
    summary: dict = {k: statistics.median(run[k] for run in runs) for k in keys}
    summary["spread"] = {
        k: [min(run[k] for run in runs), max(run[k] for run in runs)] for k in keys
    }
    for total in ("requests", "non_2xx"):  # counts: summed over the rounds
        if total in summary:
            summary[total] = sum(run[total] for run in runs)
    return summary


def _load(stack: Stack, web: Service, url: str, seconds: float, connections: int, *args: str):
    """One wrk run, with the CPU gunicorn and Redis spent per request (ms)."""
    pids = (web.process.pid, stack.redis_server.process.pid)
    before = tree_cpu(*pids)
    result = _wrk(url, seconds, connections, *args)
    result["cpu_ms"] = (tree_cpu(*pids) - before) * 1000 / max(1, result["requests"])
    return result


def against_floor(
    stack: Stack,
    mode: str,
    seconds: float,
    connections: int = 32,
    rounds: int = ROUNDS,
    **env: str,
) -> dict:
    """``mode`` (a wrk.lua mode) against GET /healthz on one gunicorn, ``rounds`` times.

    Both are warmed up first (a fresh gunicorn's first seconds are slow: imports,
    connections, scripts); then floor and measurement alternate, so a burst of
    load from elsewhere on a shared machine hits both alike. Ratios are taken
    per round, then their median: ``ratio`` in requests/s (higher is better),
    ``cpu_ratio`` in CPU per request (lower is better).
    """
    stack.flush()
    url = stack.web(**env)
    service = stack.services[-1]
    warm = max(1.0, seconds / 2)
    _wrk(f"{url}/healthz", warm, connections, "get")
    _wrk(url, warm, connections, mode, "900000000")
    floors, runs = [], []
    for n in range(rounds):
        floors.append(_load(stack, service, f"{url}/healthz", seconds, connections, "get"))
        runs.append(_load(stack, service, url, seconds, connections, mode, f"{n + 1}00000000"))
    stack.stop(service)
    stack.flush()
    ratios = [run["rps"] / floor["rps"] for floor, run in zip(floors, runs, strict=True)]
    cpu = [run["cpu_ms"] / floor["cpu_ms"] for floor, run in zip(floors, runs, strict=True)]
    return {
        "floor": spread(floors),
        "send": spread(runs),
        "ratio": statistics.median(ratios),
        "ratio_spread": [min(ratios), max(ratios)],
        "cpu_ratio": statistics.median(cpu),
        "cpu_ratio_spread": [min(cpu), max(cpu)],
        "settings": {k: v for k, v in env.items() if k.startswith("GUNICORN_")},
    }


def web(stack: Stack, seconds: float, connections: int = 32, **env: str) -> dict:
    """Send endpoint (distinct mobiles, every limit on) against GET /healthz.

    gunicorn runs as shipped (gunicorn.conf.py) unless ``env`` sets GUNICORN_*.
    """
    return against_floor(stack, "send", seconds, connections, **env)


def _publisher(stack: Stack, queue: str):
    app = create_app({**stack.settings, "CELERY_TASK_DEFAULT_QUEUE": queue})
    return app.extensions["celery"]


def drain(
    stack: Stack,
    pool: str,
    concurrency: int,
    count: int,
    task: str = "send_sms",
    app: str = "celery_worker.celery",
    delay: float = 0.0,
) -> dict:
    """Queue ``count`` messages, start one worker, time how fast it empties the queue."""
    stack.flush()
    stack.sim_reset(delay)
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    celery = _publisher(stack, queue)
    with celery.producer_or_acquire() as producer:
        for n in range(count):
            args = ("1", f"139{n:08d}", ["123456", "5"]) if task == "send_sms" else ()
            celery.send_task(task, args, queue=queue, producer=producer)
    redis = stack.redis
    worker = stack.worker(
        pool, concurrency, app=app, name=f"{pool}{concurrency}", CELERY_TASK_DEFAULT_QUEUE=queue
    )
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(worker.process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        start = wait_until(lambda: redis.llen(queue) < count, timeout=60)
        end = wait_until(
            lambda: redis.llen(queue) == 0 and redis.hlen("unacked") == 0,
            timeout=max(60, count / 5),
        )
    finally:
        done.set()
        sampler.join()
        stack.stop(worker)
    return {
        "pool": pool,
        "concurrency": concurrency,
        "messages": count,
        "rate": count / (end - start),
        "peak_rss_mb": peak[0] / 2**20,
    }


def end_to_end(stack: Stack, rate: float, seconds: float, burst_mobiles: int) -> dict:
    """Fixed request rate: HTTP 200 to the simulator's receipt; lost and duplicated SMS."""
    stack.flush()
    stack.sim_reset(0.0)
    url = stack.web()
    web = stack.services[-1]
    # 16 threads: enough for a 0 ms provider; more only adds GIL contention.
    worker = stack.worker("threads", E2E_CONCURRENCY, name="e2e")
    answered: dict[str, float] = {}
    refused = Counter()
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return local.session

    def send(mobile: str) -> None:
        response = session().post(f"{url}/users/sms/{mobile}", timeout=10)
        if response.status_code == 200:
            answered[mobile] = time.time()
        else:
            refused[response.status_code] += 1

    total = int(rate * seconds)
    with ThreadPoolExecutor(32) as pool:
        start = time.monotonic()
        for n in range(total):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, f"137{n:08d}")
    settle = time.monotonic() + 30
    while time.monotonic() < settle:
        received = [m for m in stack.sim_messages() if m["status"] == "000000"]
        if len({m["to"] for m in received}) >= len(answered):
            break
        time.sleep(0.5)
    time.sleep(1)  # room for a duplicate to arrive
    received = [m for m in stack.sim_messages() if m["status"] == "000000"]
    per_mobile = Counter(m["to"] for m in received)
    first_receipt = {}
    for message in received:
        first_receipt.setdefault(message["to"], message["at"])
    latencies = sorted(
        max(0.0, first_receipt[m] - t) * 1000 for m, t in answered.items() if m in first_receipt
    )

    burst = _burst(stack, url, burst_mobiles)
    stack.stop(worker)
    stack.stop(web)
    return {
        "rate": rate,
        "seconds": seconds,
        "answered_200": len(answered),
        "refused": dict(refused),
        "lost": sum(1 for m in answered if m not in per_mobile),
        "duplicated": sum(c - 1 for c in per_mobile.values() if c > 1),
        "p50_ms": _percentile(latencies, 50),
        "p99_ms": _percentile(latencies, 99),
        "burst": burst,
    }


def _burst(stack: Stack, url: str, mobiles: int) -> dict:
    """Every mobile requested 4 times at once: one 200 and one SMS each."""
    stack.sim_reset(0.0)
    targets = [f"136{n:08d}" for n in range(mobiles)] * 4
    with ThreadPoolExecutor(64) as pool:
        statuses = list(
            pool.map(
                lambda m: requests.post(f"{url}/users/sms/{m}", timeout=10).status_code, targets
            )
        )
    ok = statuses.count(200)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len([m for m in stack.sim_messages() if m["status"] == "000000"]) >= ok:
            break
        time.sleep(0.5)
    time.sleep(1)
    per_mobile = Counter(m["to"] for m in stack.sim_messages() if m["status"] == "000000")
    return {
        "mobiles": mobiles,
        "requests": len(targets),
        "answered_200": ok,
        "lost": mobiles - len(per_mobile) if ok == mobiles else None,
        "duplicated": sum(c - 1 for c in per_mobile.values() if c > 1),
    }


def _percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]
