"""The abuse defence under load: what a refused send costs, and a flood.

A refused send (captcha missing, cooldown, per-IP limit, budget) must cost
far less than an issued one, so a flood cannot take the service down for
real users. ``refusals`` measures each kind against the ``/healthz`` floor
(goal: at most 2x its cost); ``flood`` sends 20 attacking clients at 2,000
numbers in a few ranges while one real user solves the captcha.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import threading
import time

import requests

from bench.measure import E2E_CONCURRENCY, _wrk
from bench.stack import Stack, tree_cpu, wait_until

ANSWER = "QZ7K"
RANGES = ("1701234", "1701235", "1650001", "1710000")

# Each refusal, the settings that cause it, and the wrk mode that meets it;
# SMS_CAPTCHA is the default (auto) unless the refusal is the captcha's.
REFUSALS = {
    "captcha_required": ({"SMS_CAPTCHA": "always"}, "send"),
    "cooldown": ({"SMS_CAPTCHA": "auto"}, "one"),
    "per_ip_limit": ({"SMS_CAPTCHA": "auto", "RATELIMIT_SMS_PER_IP": "1 per hour"}, "send"),
    "budget": ({"SMS_CAPTCHA": "auto", "SMS_HOURLY_BUDGET": "1"}, "send"),
}


def refusals(stack: Stack, seconds: float, connections: int = 32) -> dict:
    """Requests per second of each refused send against GET /healthz on the same server."""
    results: dict = {}
    for kind, (env, mode) in REFUSALS.items():
        stack.flush()
        url = stack.web(**env)
        _wrk(f"{url}/healthz", 1, connections, "get")  # warm-up
        _wrk(url, 1, connections, mode, "700000000")
        floor = _wrk(f"{url}/healthz", seconds, connections, "get")
        refused = _wrk(url, seconds, connections, mode, "0")
        results[kind] = {
            **refused,
            "floor_rps": floor["rps"],
            "cost_vs_floor": floor["rps"] / refused["rps"],
        }
        for service in [s for s in stack.services if s.name.startswith("gunicorn")]:
            stack.stop(service)
    stack.flush()
    return results


def flood(stack: Stack, seconds: float, attackers: int = 20, mobiles: int = 2000) -> dict:
    """20 clients (by X-Forwarded-For) at random numbers in a few ranges; one real user."""
    stack.flush()
    stack.sim_reset(0.0)
    stack.worker("threads", E2E_CONCURRENCY, name="flood")
    url = stack.web(
        APP_CONFIG="testing",  # SMS_CAPTCHA_TEST_ANSWER lets the real user solve it
        SMS_CAPTCHA="auto",
        SMS_CAPTCHA_TEST_ANSWER=ANSWER,
        TRUSTED_PROXY_COUNT="1",
        RATELIMIT_SMS_PER_IP="5 per minute;30 per hour",
    )
    web = next(s for s in stack.services if s.name.startswith("gunicorn"))
    targets = [f"{random.choice(RANGES)}{random.randrange(10**4):04d}" for _ in range(mobiles)]
    stop = threading.Event()
    attacks: list[int] = []
    lock = threading.Lock()

    def attacker(n: int) -> None:
        session, sent = requests.Session(), 0
        headers = {"X-Forwarded-For": f"10.0.{n}.1"}
        while not stop.is_set():
            session.post(f"{url}/users/sms/{random.choice(targets)}", headers=headers, timeout=10)
            sent += 1
        with lock:
            attacks.append(sent)

    user = {"tries": 0, "ok": 0, "captchas": 0, "latency_ms": []}

    def real_user() -> None:
        session = requests.Session()
        while not stop.is_set():
            user["tries"] += 1
            headers = {"X-Forwarded-For": f"192.0.2.{user['tries'] % 250 + 1}"}
            mobile = f"138{random.randrange(10**8):08d}"
            started = time.monotonic()
            answer = session.post(f"{url}/users/sms/{mobile}", headers=headers, timeout=10)
            if answer.status_code == 400 and answer.json().get("error") == "captcha_required":
                user["captchas"] += 1
                captcha = session.get(f"{url}/captcha", headers=headers, timeout=10).json()
                fields = {"captcha_id": captcha["captcha_id"], "captcha": ANSWER}
                answer = session.post(
                    f"{url}/users/sms/{mobile}", json=fields, headers=headers, timeout=10
                )
            if answer.status_code == 200:
                user["ok"] += 1
                user["latency_ms"].append((time.monotonic() - started) * 1000)
            stop.wait(0.5)

    cpu_before = tree_cpu(web.process.pid)
    threads = [threading.Thread(target=attacker, args=(n,)) for n in range(attackers)]
    threads.append(threading.Thread(target=real_user))
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    cpu = tree_cpu(web.process.pid) - cpu_before
    issued = int(stack.redis.hget("sms:metrics", "codes_issued") or 0)

    def sent() -> int:
        return sum(1 for m in stack.sim_messages() if m["status"] == "000000")

    with contextlib.suppress(TimeoutError):  # then reported as it is
        wait_until(lambda: sent() >= issued, timeout=30, interval=0.5)
    sms_sent = sent()
    stack.stop(web)
    for worker in [s for s in stack.services if s.name == "flood"]:
        stack.stop(worker)
    stack.flush()
    requests_made = sum(attacks) + user["tries"] + user["captchas"] * 2
    latencies = sorted(user["latency_ms"])
    return {
        "seconds": seconds,
        "attackers": attackers,
        "attack_requests": sum(attacks),
        "codes_issued": issued,
        "sms_sent": sms_sent,
        "user_tries": user["tries"],
        "user_ok": user["ok"],
        "user_captchas": user["captchas"],
        "user_p50_ms": statistics.median(latencies) if latencies else None,
        "user_max_ms": latencies[-1] if latencies else None,
        "cpu_ms_per_request": cpu * 1000 / max(1, requests_made),
    }
