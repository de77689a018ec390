"""``make run``: Redis (the given one or a private one), then web, worker and beat.

Ctrl-C stops honcho's processes first and the private Redis last.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tools.redis_server import RedisServer, answers

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    server = None
    if answers(redis_url):
        print(f"Using Redis at {redis_url}", flush=True)
    else:
        server = RedisServer().start()
        redis_url = server.url
        print(f"No Redis answered; started a private one at {redis_url}", flush=True)

    port = os.environ.get("PORT") or "5000"
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "PORT": port,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    (ROOT / "var").mkdir(exist_ok=True)
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
