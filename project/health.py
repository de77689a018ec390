"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint, current_app

from .delivery.chain import get_chain
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
    """Ready when Redis and the broker both answer; else 503 naming what failed.

    The body also shows each SMS provider's circuit; an open one never makes
    the probe fail (sends wait or go to another provider, the web still works).
    """
    failed = []
    providers: dict[str, str] = {}
    try:
        get_redis().ping()
        providers = get_chain().states()
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
            "providers": providers,
        }, 503
    return {"status": "ok", "errmsg": "OK", "providers": providers}, 200
