"""Which gunicorn settings serve the send endpoint best here: ``python -m bench.configs``.

Runs the web measurement of ``make bench`` (send against ``/healthz``, warmed
up, repeated, medians) for each worker class and size, set the way an
operator sets them (``GUNICORN_WORKER_CLASS``, ``GUNICORN_WORKERS``,
``GUNICORN_THREADS`` read by gunicorn.conf.py), and prints one table. The
defaults in gunicorn.conf.py are chosen from its figures.

    python -m bench.configs                 # every configuration, 5 s per run
    python -m bench.configs --seconds 2 sync:4 gthread:2:4
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime

from bench import measure
from bench.__main__ import RESULTS, _commit, _range
from bench.stack import Stack

CONFIGS = (
    "gthread:5:4",
    "gthread:4:4",
    "gthread:2:4",
    "gthread:2:2",
    "gthread:4:1",
    "sync:2",
    "sync:4",
    "sync:5",
    "gevent:2",
    "gevent:4",
)


def settings(config: str) -> dict[str, str]:
    """``gthread:4:2`` -> the GUNICORN_* variables of 4 gthread workers of 2 threads."""
    kind, workers, *threads = config.split(":")
    env = {"GUNICORN_WORKER_CLASS": kind, "GUNICORN_WORKERS": workers}
    if threads:
        env["GUNICORN_THREADS"] = threads[0]
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", default=CONFIGS, help="class:workers[:threads]")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    stack = Stack()
    results = {}
    try:
        for config in args.configs:
            results[config] = measure.web(stack, args.seconds, args.connections, **settings(config))
            print(row(config, results[config]), flush=True)
    finally:
        stack.close()
    output = RESULTS / f"configs-{datetime.now():%Y%m%d-%H%M%S}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    meta = {"commit": _commit(), "cpus": os.cpu_count(), "seconds": args.seconds}
    output.write_text(json.dumps({"meta": meta, "configs": results}, indent=2))
    print(f"\nfigures written to {output}")


def row(config: str, result: dict) -> str:
    send, floor = result["send"], result["floor"]
    return (
        f"{config:<12} send {send['rps']:5.0f} req/s ({_range(send['spread']['rps'], 0)}) "
        f"p99 {send['p99_ms']:5.1f} ms ({_range(send['spread']['p99_ms'], 0)}), "
        f"CPU {send['cpu_ms']:.2f} ms | healthz {floor['rps']:5.0f} req/s "
        f"p99 {floor['p99_ms']:5.1f} ms, CPU {floor['cpu_ms']:.2f} ms | "
        f"ratio {result['ratio']:.2f} ({_range(result['ratio_spread'])}), "
        f"CPU {result['cpu_ratio']:.2f}x"
    )


if __name__ == "__main__":
    main()
