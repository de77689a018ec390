"""Where the time of one code issue and one send goes: ``python -m bench.profile``.

Runs the send endpoint (Flask test client, every limit on) and the send task
body (real SDK against the simulator) in this process under pyinstrument,
against a private Redis, and prints both call trees with CPU per call.
"""

from __future__ import annotations

import sys
import time

from pyinstrument import Profiler

from project import create_app
from project.delivery.chain import get_chain
from tools.redis_server import RedisServer
from tools.ronglian_sim import RongLianSimulator


def main(calls: int = 2000) -> None:
    with RedisServer() as redis_server:
        sim = RongLianSimulator("acc", "token", "app").start()
        app = create_app(
            {
                "APP_CONFIG": "production",
                "SECRET_KEY": "profile-not-secret-but-long-enough-for-production",
                "LOG_LEVEL": "WARNING",
                "REDIS_URL": redis_server.url,
                "SMS_PROVIDER": "ronglian",
                "RONGLIAN_ACC_ID": "acc",
                "RONGLIAN_ACC_TOKEN": "token",
                "RONGLIAN_APP_ID": "app",
                "RONGLIAN_BASE_URL": sim.url,
                "RATELIMIT_SMS_PER_IP": "100000000 per minute",
                # One client address: with the captcha on, every send after
                # the 3rd would be a refusal (bench/abuse.py measures those).
                "SMS_CAPTCHA": "off",
            }
        )
        client = app.test_client()
        for n in range(200):  # warm up: scripts loaded, connections open
            client.post(f"/users/sms/137{n:08d}")

        def issue(n: int) -> None:
            client.post(f"/users/sms/139{n:08d}")

        def send(n: int) -> None:
            send_id, mobile, masked = f"profile-{n}", "13812345678", "138****5678"
            begun = chain.begin(send_id, "owner", mobile, masked, "sms")
            attempt = chain.send(begun, send_id, "1", mobile, ["123456", "5"], masked)
            chain.finish(send_id, attempt, "sends_succeeded", failed=False)

        with app.app_context():
            chain = get_chain()
            for label, call in (("POST /users/sms/<mobile>", issue), ("send task body", send)):
                profiler = Profiler(interval=0.0005)
                started = time.process_time()
                with profiler:
                    for n in range(calls):
                        call(n)
                cpu_ms = (time.process_time() - started) / calls * 1000
                print(f"\n=== {label}: {cpu_ms:.2f} ms CPU per call (profiled) ===")
                print(profiler.output_text(unicode=True, color=False))
        sim.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
