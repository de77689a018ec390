"""The SMS verification service: ``create_app`` builds it."""

from __future__ import annotations

import os
from collections.abc import Mapping

from flask import Flask

from config import load_config

from . import (
    abuse,
    cli,
    delivery,
    errors,
    messages,
    metrics,
    page,
    providers,
    ratelimit,
    redis_store,
)
from .celery_app import celery_init_app
from .logs import configure_logging


def create_app(settings: Mapping[str, str] | None = None) -> Flask:
    """Build the app from the environment, with ``settings`` laid over it.

    ``settings`` use the environment's names (``{"SMS_CODE_TTL": "5"}``), so
    tests and operators configure the app the same way.
    """
    config = load_config({**os.environ, **(settings or {})})
    configure_logging(config.LOG_LEVEL, config.LOG_FORMAT)

    app = Flask(__name__)
    app.config.from_object(config)
    app.json.ensure_ascii = False

    redis_store.init_app(app)
    providers.init_app(app)
    celery_init_app(app)
    messages.init_app(app)
    errors.init_app(app)
    ratelimit.init_app(app)
    cli.init_app(app)
    metrics.init_app(app)
    delivery.init_app(app)
    page.init_app(app)
    abuse.init_app(app)
    register_blueprints(app)
    return app


def register_blueprints(app: Flask) -> None:
    from . import health, openapi, sms

    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(sms.bp)
