"""The Celery entry point: ``celery -A celery_worker.celery worker|beat``."""

import sys

from config import ConfigError
from project import create_app

try:
    app = create_app()
except ConfigError as exc:  # one line, not a traceback, for the operator
    sys.exit(f"configuration error: {exc}")
celery = app.extensions["celery"]
