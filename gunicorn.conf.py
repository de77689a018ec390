"""gunicorn defaults for ``gunicorn wsgi:app``; each one can be overridden by env.

Command-line flags and ``GUNICORN_CMD_ARGS`` still win over this file.
"""

import multiprocessing
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


_port = os.environ.get("PORT")
bind = os.environ.get("GUNICORN_BIND") or (f"0.0.0.0:{_port}" if _port else "127.0.0.1:8000")
# gthread: the requests wait on Redis, so a few threads per process serve
# far more than one; processes are capped so a big host does not open
# hundreds of Redis connections.
workers = _env_int("GUNICORN_WORKERS", min(multiprocessing.cpu_count() * 2 + 1, 8))
threads = _env_int("GUNICORN_THREADS", 4)
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
