"""gunicorn defaults for ``gunicorn wsgi:app``; each one can be overridden by env.

Command-line flags and ``GUNICORN_CMD_ARGS`` still win over this file.
"""

import os
import sys
from urllib.parse import unquote

from gunicorn.glogging import Logger

from config import ConfigError, load_config
from project.logs import configure_logging, prepare_handlers

# Refuse a bad configuration in the master, with one line, before any worker
# boots (a worker that fails to boot prints a traceback per attempt).
try:
    _settings = load_config()
except ConfigError as exc:
    sys.exit(f"configuration error: {exc}")
configure_logging(_settings.LOG_LEVEL, _settings.LOG_FORMAT)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _cores() -> int:
    """The cores this process may run on (a container's or taskset's share, on Linux)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


_port = os.environ.get("PORT")
bind = os.environ.get("GUNICORN_BIND") or (f"0.0.0.0:{_port}" if _port else "127.0.0.1:8000")
# gthread, one process per core, 2 threads each: the cheapest and fastest
# configuration measured (`python -m bench.configs`: the send endpoint against
# /healthz, wrk -c32, 3 rounds each, medians; 2 cores shared with other users,
# load average 5-9, so CPU per request, which load disturbs least, decides;
# run 1 before the cheaper send path, runs 2 and 3 after it;
# docs/performance.md has the runs):
#
#   class:workers:threads          CPU ms per send  send / healthz req/s
#   gthread:5:4 (the old default)  1.69, 1.48, 1.37 0.22, 0.22, 0.28
#   gthread:2:4                    1.70, 1.50, 1.39 0.18, 0.32, 0.33
#   gthread:2:2 (this default)     1.43, 1.44, 1.34 0.22, 0.26, 0.38
#   sync:2                         1.43, 1.34, 1.43 0.28, 0.25, 0.25
#   sync:4, sync:5                 1.63, 1.69       0.26, 0.22
#   gevent:2                       1.95, 1.74       0.16, 0.21
#
# Each process beyond one per core costs CPU per request (switches, colder
# caches) and buys nothing once the cores are busy. sync is as cheap, but it
# closes every connection (nginx's upstream keep-alive is then wasted) and
# holds a whole process per slow client; gevent pays for its patched sockets.
# Two threads let a process overlap one request's Redis round trips with
# another's work; with Redis far away (a round trip of 1 ms or more) more
# threads pay: raise GUNICORN_THREADS.
workers = _env_int("GUNICORN_WORKERS", _cores())
threads = _env_int("GUNICORN_THREADS", 2)
worker_class = os.environ.get("GUNICORN_WORKER_CLASS") or "gthread"
timeout = _env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then so a slow leak never takes a host down.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 10000)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", 1000)
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


class RedactingLogger(Logger):
    """gunicorn's logger, prepared like the app's: the access log shows request paths.

    The request line is logged percent-decoded, so ``/users/sms/%313800138000``
    is masked like the plain mobile it stands for.
    """

    def setup(self, cfg):
        super().setup(cfg)
        prepare_handlers(self.error_log)
        prepare_handlers(self.access_log)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("r", "U", "q", "f"):
            if isinstance(atoms.get(name), str):
                atoms[name] = unquote(atoms[name])
        return atoms


logger_class = RedactingLogger
