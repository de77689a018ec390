"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint, current_app

from .errors import UNAVAILABLE
from .messages import message
from .redis_store import get_redis

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict:
    """The process serves requests; says nothing of its dependencies."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict, int]:
    """Ready when Redis and the broker both answer; else 503 naming what failed."""
    failed = []
    try:
        get_redis().ping()
    except UNAVAILABLE:
        failed.append("redis")
    celery = current_app.extensions["celery"]
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(
                max_retries=1, timeout=current_app.config["REDIS_SOCKET_TIMEOUT"]
            )
    except UNAVAILABLE:
        failed.append("broker")
    if failed:
        return {
            "status": "unavailable",
            "error": "unavailable",
            "errmsg": message("unavailable"),
            "failed": failed,
        }, 503
    return {"status": "ok", "errmsg": "OK"}, 200
