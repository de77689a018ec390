"""``make run``: Redis (the given one or a private one), then web, worker and beat.

With ``REDIS_URL`` set, that Redis is used or ``make run`` stops at once: a
typo in the URL must not go unnoticed. Without it, a private redis-server on
a free port is started, so a Redis that happens to listen on 6379 (someone
else's data) is never touched. Ctrl-C stops honcho's processes first and the
private Redis last.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kombu.utils.url import maybe_sanitize_url

from tools.redis_server import RedisServer, answers

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    given = os.environ.get("REDIS_URL")
    server = None
    if given:
        if not answers(given, timeout=2):
            print(
                f"make run: no Redis answers at REDIS_URL={maybe_sanitize_url(given)}; "
                "start it, fix the URL, or unset REDIS_URL for a private Redis",
                file=sys.stderr,
                flush=True,
            )
            return 1
        redis_url, whose = given, "REDIS_URL"
    else:
        server = RedisServer().start()
        redis_url = server.url
        whose = f"private redis-server, pid {server.process.pid}, stops with make run"

    port = os.environ.get("PORT") or "5000"
    broker = os.environ.get("CELERY_BROKER_URL") or redis_url
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "PORT": port,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    print(f"Redis:  {maybe_sanitize_url(redis_url)}  ({whose})", flush=True)
    print(f"Broker: {maybe_sanitize_url(broker)}", flush=True)
    print(f"SMS service: http://127.0.0.1:{port}/  (Ctrl-C stops everything)", flush=True)
    print(f"  try: curl -X POST http://127.0.0.1:{port}/users/sms/13800138000", flush=True)
    honcho = subprocess.Popen(
        [sys.executable, "-m", "honcho", "start", "-f", "Procfile"], cwd=ROOT, env=env
    )
    try:
        return honcho.wait()
    except KeyboardInterrupt:
        return honcho.wait()  # honcho got the same Ctrl-C and is stopping its processes
    finally:
        if server:
            server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
