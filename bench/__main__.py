"""``make bench``: every measurement against a floor taken in the same run.

    python -m bench            # the full run, a few minutes
    python -m bench --quick    # tiny inputs: checks the harness, proves nothing

Prints one table and writes the figures as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench import abuse, measure
from bench.stack import Stack

RESULTS = Path(__file__).resolve().parent / "results"
LATENCY = 0.1  # the simulated provider's answer time in the I/O-bound runs


@dataclass(frozen=True)
class Plan:
    web_seconds: float
    io_runs: tuple[tuple[str, int, int], ...]  # pool, concurrency, messages
    cpu_messages: int
    e2e_rate: float
    e2e_seconds: float
    burst_mobiles: int
    refusal_seconds: float
    flood_seconds: float


FULL = Plan(
    web_seconds=10,
    io_runs=(
        ("threads", 50, 1500),
        ("threads", 200, 3000),
        ("gevent", 50, 1500),
        ("gevent", 200, 3000),
        ("prefork", 2, 60),
    ),
    cpu_messages=3000,
    e2e_rate=200,
    e2e_seconds=20,
    burst_mobiles=200,
    refusal_seconds=5,
    flood_seconds=20,
)
QUICK = Plan(
    web_seconds=1,
    io_runs=(("threads", 4, 12), ("gevent", 4, 12), ("prefork", 2, 4)),
    cpu_messages=20,
    e2e_rate=10,
    e2e_seconds=1,
    burst_mobiles=3,
    refusal_seconds=1,
    flood_seconds=2,
)


def run(plan: Plan) -> dict:
    stack = Stack()
    try:
        results: dict = {"web": measure.web(stack, plan.web_seconds)}
        io, ceilings = [], {}
        for pool, concurrency, count in plan.io_runs:
            # The CPU-bound rate of real sends (0 ms simulator) bounds what any
            # latency can allow: the ceiling is the lower of the two.
            cpu = measure.drain(stack, pool, concurrency, min(count, plan.cpu_messages))
            waited = measure.drain(stack, pool, concurrency, count, delay=LATENCY)
            ceiling = min(concurrency / LATENCY, cpu["rate"])
            ceilings[f"{pool}-{concurrency}"] = cpu["rate"]
            io.append(
                {
                    **waited,
                    "cpu_rate": cpu["rate"],
                    "ceiling": ceiling,
                    "of_ceiling": waited["rate"] / ceiling,
                }
            )
        results["worker_io"] = io
        null_app = "bench.null_worker.celery"
        # The worker settings of the end-to-end run, for the send and its floor alike.
        cpu_settings = ("threads", measure.E2E_CONCURRENCY)
        send = measure.drain(stack, *cpu_settings, plan.cpu_messages, app=null_app)
        noop = measure.drain(
            stack, *cpu_settings, plan.cpu_messages, app=null_app, task="bench_noop"
        )
        results["worker_cpu"] = {"send": send, "noop": noop, "ratio": send["rate"] / noop["rate"]}
        results["end_to_end"] = measure.end_to_end(
            stack, plan.e2e_rate, plan.e2e_seconds, plan.burst_mobiles
        )
        results["refusals"] = abuse.refusals(stack, plan.refusal_seconds)
        results["flood"] = abuse.flood(stack, plan.flood_seconds)
        return results
    finally:
        stack.close()


def table(results: dict) -> str:
    web, cpu, e2e = results["web"], results["worker_cpu"], results["end_to_end"]
    rows = [
        (
            "web: GET /healthz (floor)",
            f"{web['floor']['rps']:.0f} req/s",
            f"p50 {web['floor']['p50_ms']:.1f} ms, p99 {web['floor']['p99_ms']:.1f} ms",
        ),
        (
            "web: POST /users/sms/<mobile>",
            f"{web['send']['rps']:.0f} req/s",
            f"p50 {web['send']['p50_ms']:.1f} ms, p99 {web['send']['p99_ms']:.1f} ms, "
            f"non-2xx {web['send']['non_2xx']}",
        ),
        ("web: send / floor", f"{web['ratio']:.2f}", "goal >= 0.40, p99 < 30 ms"),
    ]
    for run in results["worker_io"]:
        rows.append(
            (
                f"worker I/O 100 ms: {run['pool']} c{run['concurrency']}",
                f"{run['rate']:.0f} SMS/s",
                f"{run['of_ceiling']:.0%} of ceiling {run['ceiling']:.0f}/s "
                f"(CPU-bound {run['cpu_rate']:.0f}/s); peak RSS {run['peak_rss_mb']:.0f} MB",
            )
        )
    rows += [
        (
            "worker CPU: bare no-op task (floor)",
            f"{cpu['noop']['rate']:.0f} tasks/s",
            f"threads c{measure.E2E_CONCURRENCY}",
        ),
        (
            "worker CPU: send, 0 ms provider",
            f"{cpu['send']['rate']:.0f} SMS/s",
            "app context, ledger, unseal, counters, logging",
        ),
        ("worker CPU: send / floor", f"{cpu['ratio']:.2f}", "goal >= 0.80"),
        (
            f"end to end: {e2e['rate']:.0f} req/s for {e2e['seconds']:.0f} s",
            f"p50 {_ms(e2e['p50_ms'])}, p99 {_ms(e2e['p99_ms'])}",
            f"200s {e2e['answered_200']}, lost {e2e['lost']}, duplicated {e2e['duplicated']}; "
            "goal p99 < 50 ms, 0, 0",
        ),
        (
            f"end to end: burst, {e2e['burst']['mobiles']} mobiles x 4",
            f"200s {e2e['burst']['answered_200']}",
            f"lost {e2e['burst']['lost']}, duplicated {e2e['burst']['duplicated']}",
        ),
    ]
    for kind, refused in results["refusals"].items():
        rows.append(
            (
                f"refused send: {kind}",
                f"{refused['rps']:.0f} req/s",
                f"cost {refused['cost_vs_floor']:.2f}x /healthz "
                f"({refused['floor_rps']:.0f} req/s); goal <= 2x",
            )
        )
    flood = results["flood"]
    rows.append(
        (
            f"flood: {flood['attackers']} clients, {flood['seconds']:.0f} s",
            f"{flood['attack_requests']} requests, {flood['sms_sent']} SMS sent",
            f"real user {flood['user_ok']}/{flood['user_tries']} ok "
            f"({flood['user_captchas']} captchas), p50 {_ms(flood['user_p50_ms'])}, "
            f"max {_ms(flood['user_max_ms'])}; CPU {flood['cpu_ms_per_request']:.2f} ms/request",
        )
    )
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(f"{a:<{width[0]}}  {b:<{width[1]}}  {c}" for a, b, c in rows)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the SMS service against floors.")
    parser.add_argument("--quick", action="store_true", help="tiny inputs (a smoke test)")
    parser.add_argument("--output", type=Path, default=None, help="where to write the JSON")
    args = parser.parse_args()
    started = time.time()
    results = run(QUICK if args.quick else FULL)
    results["meta"] = {
        "quick": args.quick,
        "when": datetime.now().isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 1),
        "machine": f"{platform.node()} {platform.machine()} {platform.python_version()}",
    }
    print(table(results))
    output = args.output or RESULTS / f"bench-{datetime.now():%Y%m%d-%H%M%S}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2))
    print(f"\nfigures written to {output}")


if __name__ == "__main__":
    main()
