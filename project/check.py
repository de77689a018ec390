"""What ``flask sms check`` looks at: the settings, the services the app needs, the queue.

Each look is bounded by a short time-out, so the check answers quickly on
the very day something is down, which is when an operator runs it.
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Flask, current_app

from config import CONFIGS

from .errors import UNAVAILABLE
from .queue import QueueStats, backlog, queue_stats, shown_age
from .redis_store import get_redis

CONNECT_TIMEOUT = 2.0
# Names whose values are secrets: shown only as set or unset.
SECRET_NAMES = re.compile(r"SECRET|TOKEN|PASSWORD|API_KEYS|TEST_ANSWER|TEST_NUMBERS")
_URL_PASSWORD = re.compile(r"(://[^/@:;]*:)[^@/;]+@")
DEFAULT_PORTS = {
    "redis": 6379,
    "rediss": 6379,
    "sentinel": 26379,
    "amqp": 5672,
    "amqps": 5671,
    "http": 80,
    "https": 443,
}
# The setting that names each provider's API address (a URL or a bare https host).
PROVIDER_ADDRESS = {
    "ronglian": "RONGLIAN_BASE_URL",
    "aliyun": "ALIYUN_ENDPOINT",
    "tencent": "TENCENT_ENDPOINT",
}
# Celery's own dict is shown through the settings it is built from.
_INTERNAL = {"CELERY", "NAME"}


@dataclass
class Probe:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    settings: dict[str, str]
    probes: list[Probe] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(p.ok for p in self.probes) and not self.alarms

    def verdict(self) -> str:
        if self.healthy:
            return "verdict: HEALTHY"
        trouble = [f"{p.name} {p.detail}" for p in self.probes if not p.ok] + self.alarms
        return "verdict: NOT HEALTHY: " + "; ".join(trouble)


def mask_url(text: str) -> str:
    """``redis://:pw@host`` -> ``redis://:****@host`` (every URL in ``text``)."""
    return _URL_PASSWORD.sub(r"\1****@", text)


def shown(name: str, value: object) -> str:
    """A setting's value as the check prints it: secrets never in clear."""
    if SECRET_NAMES.search(name):
        return "****** (set)" if value else "- (not set)"
    if value is None or value == "":
        return "-"
    return mask_url(str(value))


def settings_view(app: Flask) -> dict[str, str]:
    """The operator's settings as the app holds them, after defaults and derivation."""
    celery = app.config["CELERY"]
    derived = {
        "CELERY_BROKER_URL": celery["broker_url"],
        "CELERY_RESULT_BACKEND": celery["result_backend"],
        "CELERY_TASK_DEFAULT_QUEUE": celery["task_default_queue"],
    }
    # The names config.py defines (an empty environment builds them all).
    names = {
        name
        for name in dir(CONFIGS[app.config["NAME"]]({}))
        if name.isupper() and name not in _INTERNAL and not name.startswith("DEFAULT_")
    }
    merged = {**{name: app.config.get(name) for name in names}, **derived}
    return {name: shown(name, merged[name]) for name in sorted(merged)}


def tcp_probe(name: str, url: str, label: str) -> Probe:
    """Connect to every host of ``url`` (``;``-separated lists too); ok if one answers."""
    seen, failures = [], []
    for one in filter(None, (part.strip() for part in url.split(";"))):
        parts = urlsplit(one if "://" in one else f"https://{one}")
        host = parts.hostname or "127.0.0.1"
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 443)
        where = f"{host}:{port}"
        try:
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
            seen.append(where)
        except OSError as exc:
            failures.append(f"{where}: {exc.strerror or type(exc).__name__}")
    if seen:
        return Probe(name, True, f"{', '.join(seen)} ({label}) accepts connections")
    return Probe(name, False, f"does not answer ({label}; {'; '.join(failures) or 'no address'})")


def redis_probe() -> Probe:
    started = time.monotonic()
    try:
        get_redis().ping()
    except UNAVAILABLE as exc:
        return Probe("redis", False, f"does not answer PING ({type(exc).__name__})")
    except Exception as exc:  # auth, TLS, a read-only replica: say what it was
        return Probe("redis", False, f"refused PING ({type(exc).__name__}: {mask_url(str(exc))})")
    return Probe("redis", True, f"answered PING in {(time.monotonic() - started) * 1000:.0f} ms")


def provider_probes(app: Flask) -> list[Probe]:
    probes = []
    for provider in filter(None, app.config["SMS_PROVIDER"].replace(" ", "").split(",")):
        address = app.config.get(PROVIDER_ADDRESS.get(provider, ""))
        if address:
            probes.append(tcp_probe("provider", address, provider))
        else:
            probes.append(Probe("provider", True, f"{provider}: no remote host to reach"))
    return probes


def queue_probe() -> tuple[Probe, QueueStats | None]:
    try:
        stats = queue_stats()
    except Exception as exc:  # down, or (AMQP) the queue not declared yet: say which
        return Probe(
            "queue", False, f"depth unknown ({type(exc).__name__}: {mask_url(str(exc))})"
        ), None
    return Probe("queue", True, f"{stats.depth} sends waiting, oldest {shown_age(stats)}"), stats


def run_checks() -> Report:
    """Look at everything once; never raises for a service that is down."""
    app = current_app._get_current_object()
    report = Report(settings_view(app))
    report.probes.append(redis_probe())
    broker = tcp_probe("broker", app.config["CELERY"]["broker_url"], "broker")
    report.probes.append(broker)
    report.probes.extend(provider_probes(app))
    if broker.ok:
        probe, stats = queue_probe()
        report.probes.append(probe)
        alarm = stats and backlog(stats, app.config)
        if alarm:
            report.alarms.append(alarm)
    else:
        report.probes.append(Probe("queue", False, "depth unknown (the broker does not answer)"))
    return report
