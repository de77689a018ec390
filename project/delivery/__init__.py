"""Delivery through the providers: the chain with its breakers, and delivery reports.

``chain`` sends one SMS through the first provider that is up and fails over
only when a provider certainly did not take it; ``reports`` records what the
vendors later report; ``views`` receives their pushes.
"""

from __future__ import annotations

from flask import Flask

from ..providers import get_providers
from ..redis_store import CircuitBreakers, get_ledger, get_redis
from . import metrics, views
from .chain import CHAIN, ProviderChain

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    """Breakers on the app's Redis; the chain over its providers and the send ledger."""
    config = app.config
    breakers = CircuitBreakers(
        get_redis(app),
        failures=config["SMS_BREAKER_FAILURES"],
        cooldown=config["SMS_BREAKER_COOLDOWN"],
        # A probe's lease outlives its call, so a second probe cannot start meanwhile.
        probe_lease=config["SMS_PROVIDER_TIMEOUT"] + 5,
    )
    app.extensions[CHAIN] = ProviderChain(get_providers(app), breakers, get_ledger(app))
    app.register_blueprint(views.bp)
    metrics.init_app(app)
