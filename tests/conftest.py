"""Fixtures: a private redis-server, the RongLian simulator, apps built by the factory.

Nothing here fakes Redis or Celery: in-process tests talk to a real
redis-server started for this session, and process tests start real
gunicorn and Celery workers against it. Tests marked ``code_store`` run
twice: with the code store and the limiter on that single Redis, and on a
3-master Redis Cluster (the broker then stays on the single Redis).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from project import create_app, metrics
from project.delivery.chain import get_chain
from tools.aliyun_sim import AliyunSimulator
from tools.rabbitmq_server import RabbitMQServer, rabbitmq_binary
from tools.redis_cluster import RedisClusterServers
from tools.redis_server import RedisServer, free_port
from tools.ronglian_sim import RongLianSimulator
from tools.services import Service, celery_beat, celery_worker, gunicorn
from tools.tencent_sim import TencentSimulator

ACC_ID = "8aaf0708test0acc0id00000000000001"
ACC_TOKEN = "f0e1d2c3b4a5secret0token00000001"
APP_ID = "8aaf0708test0app0id00000000000001"
ALIYUN_KEY_ID = "LTAI5tTest0Access0Key0Id01"
ALIYUN_KEY_SECRET = "aliyun0secret0never0in0any0log01"
TENCENT_SECRET_ID = "AKIDtest0secret0id0000000000000001"
TENCENT_SECRET_KEY = "tencent0secret0never0in0any0log1"
TENCENT_APP_ID = "1400123456"
SIGN_NAME = "测试签名"
CALLBACK_TOKEN = "callback0token0never0in0any0log1"


def attempt_send(app: Flask, send_id: str, mobile: str, datas: list[str], masked: str):
    """One attempt of a send, as the task makes it: begin, the provider calls, finish."""
    with app.app_context():
        chain = get_chain()
        begun = chain.begin(send_id, "test-owner", mobile, masked, "sms")
        attempt = chain.send(begun, send_id, "1", mobile, datas, masked)
        counter = metrics.SENDS_SUCCEEDED if attempt.result.ok else metrics.SENDS_RETRIED
        chain.finish(send_id, attempt, counter, failed=False)
    return attempt.result


ALIYUN_TEMPLATES = {"register": "SMS_100001", "login": "SMS_100002", "reset_password": "SMS_100003"}
TENCENT_TEMPLATES = {"register": "200001", "login": "200002", "reset_password": "200003"}


@pytest.fixture(scope="session", autouse=True)
def compiled_messages() -> None:
    """The answers' catalogues, compiled as ``make`` does when a .mo is missing or stale."""
    pybabel = Path(sys.executable).parent / "pybabel"
    for po in Path(__file__).resolve().parent.parent.glob("project/translations/*/*/*.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            subprocess.run(
                [str(pybabel), "-q", "compile", "-i", str(po), "-o", str(mo)], check=True
            )


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A clean database on the session's private Redis."""
    if redis_server.process is None:  # a test stopped it
        redis_server.start()
    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServers]:
    with RedisClusterServers() as cluster:
        yield cluster


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "code_store"
    ):
        metafunc.parametrize("store_backend", ["redis", "cluster"], indirect=True)


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    """Where the code store and the limiter live: ``redis`` or ``cluster``."""
    return getattr(request, "param", "redis")


@pytest.fixture
def store_settings(
    store_backend: str, redis_url: str, request: pytest.FixtureRequest
) -> dict[str, str]:
    """The settings that put the code store on ``store_backend`` (clean)."""
    if store_backend == "cluster":
        cluster = request.getfixturevalue("redis_cluster")
        cluster.flushall()
        return {"REDIS_CLUSTER_NODES": cluster.addresses}
    return {}


@pytest.fixture
def store(
    store_settings: dict[str, str], redis_url: str, request: pytest.FixtureRequest
) -> redis.Redis:
    """A client of the code store the app uses, to look at its keys."""
    if store_settings:
        return request.getfixturevalue("redis_cluster").client()
    return redis.Redis.from_url(redis_url)


def store_keys(store: redis.Redis, pattern: str = "*") -> list[bytes]:
    """Keys matching ``pattern`` on every node of the code store."""
    if isinstance(store, redis.RedisCluster):
        return store.keys(pattern, target_nodes=redis.RedisCluster.PRIMARIES)
    return store.keys(pattern)


@pytest.fixture(scope="session")
def simulator() -> Iterator[RongLianSimulator]:
    sim = RongLianSimulator(ACC_ID, ACC_TOKEN, APP_ID).start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(simulator: RongLianSimulator) -> RongLianSimulator:
    simulator.reset()
    return simulator


@pytest.fixture(scope="session")
def aliyun_simulator() -> Iterator[AliyunSimulator]:
    sim = AliyunSimulator(ALIYUN_KEY_ID, ALIYUN_KEY_SECRET, SIGN_NAME).start()
    yield sim
    sim.stop()


@pytest.fixture
def aliyun_sim(aliyun_simulator: AliyunSimulator) -> AliyunSimulator:
    aliyun_simulator.reset()
    return aliyun_simulator


@pytest.fixture(scope="session")
def tencent_simulator() -> Iterator[TencentSimulator]:
    sim = TencentSimulator(TENCENT_SECRET_ID, TENCENT_SECRET_KEY, TENCENT_APP_ID, SIGN_NAME)
    yield sim.start()
    sim.stop()


@pytest.fixture
def tencent_sim(tencent_simulator: TencentSimulator) -> TencentSimulator:
    tencent_simulator.reset()
    return tencent_simulator


def _pairs(mapping: dict[str, str]) -> str:
    return ",".join(f"{purpose}:{template}" for purpose, template in mapping.items())


@pytest.fixture
def vendor_settings(
    settings: dict[str, str], aliyun_sim: AliyunSimulator, tencent_sim: TencentSimulator
) -> dict[str, str]:
    """``settings`` plus the other vendors' (at their simulators) and the callback token."""
    return {
        **settings,
        "ALIYUN_ACCESS_KEY_ID": ALIYUN_KEY_ID,
        "ALIYUN_ACCESS_KEY_SECRET": ALIYUN_KEY_SECRET,
        "ALIYUN_SIGN_NAME": SIGN_NAME,
        "ALIYUN_TEMPLATES": _pairs(ALIYUN_TEMPLATES),
        "ALIYUN_ENDPOINT": aliyun_sim.url,
        "TENCENT_SECRET_ID": TENCENT_SECRET_ID,
        "TENCENT_SECRET_KEY": TENCENT_SECRET_KEY,
        "TENCENT_SMS_SDK_APP_ID": TENCENT_APP_ID,
        "TENCENT_SIGN_NAME": SIGN_NAME,
        "TENCENT_TEMPLATES": _pairs(TENCENT_TEMPLATES),
        "TENCENT_ENDPOINT": tencent_sim.url,
        "SMS_CALLBACK_TOKEN": CALLBACK_TOKEN,
    }


@pytest.fixture
def settings(
    redis_url: str, store_settings: dict[str, str], sim: RongLianSimulator
) -> dict[str, str]:
    """Environment-style settings for the app and every process a test starts."""
    return {
        **store_settings,
        "APP_CONFIG": "testing",
        "REDIS_URL": redis_url,
        "SMS_PROVIDER": "ronglian",
        "RONGLIAN_ACC_ID": ACC_ID,
        "RONGLIAN_ACC_TOKEN": ACC_TOKEN,
        "RONGLIAN_APP_ID": APP_ID,
        "RONGLIAN_BASE_URL": sim.url,
        # Tests send many codes from one address; the limits have their own tests.
        "RATELIMIT_SMS_PER_IP": "1000 per minute",
        "RATELIMIT_VERIFY_PER_IP": "1000 per minute",
        "SMS_DAILY_LIMIT": "1000",
        "RATELIMIT_CAPTCHA_PER_IP": "1000 per minute",
        # ...and so many that SMS_CAPTCHA=auto would ask for a captcha: the
        # abuse defence has its own tests (tests/test_abuse*.py) that turn it on.
        "SMS_CAPTCHA": "off",
    }


@pytest.fixture
def app(settings: dict[str, str]) -> Flask:
    return create_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[list[Service]]:
    """Every process a test started; all stopped at the end, whatever happened."""
    started: list[Service] = []
    yield started
    for service in reversed(started):
        service.stop()


@pytest.fixture
def start_web(
    services: list[Service], settings: dict[str, str], tmp_path: Path
) -> Callable[..., str]:
    """Start gunicorn serving wsgi:app; returns its base URL."""

    def start(env: dict[str, str] | None = None, **options: object) -> str:
        port = free_port()
        web = gunicorn({**settings, **(env or {})}, port, tmp_path, **options).start()
        services.append(web)
        web.wait_for_http(f"http://127.0.0.1:{port}/healthz")
        return f"http://127.0.0.1:{port}"

    return start


@pytest.fixture
def start_worker(
    services: list[Service], settings: dict[str, str], tmp_path: Path
) -> Callable[..., Service]:
    """Start ``celery -A celery_worker.celery worker`` and wait until it is ready."""

    def start(env: dict[str, str] | None = None, **options: object) -> Service:
        worker = celery_worker({**settings, **(env or {})}, tmp_path, **options).start()
        services.append(worker)
        worker.wait_for_output(" ready.")
        return worker

    return start


@pytest.fixture
def start_beat(
    services: list[Service], settings: dict[str, str], tmp_path: Path
) -> Callable[..., Service]:
    """Start ``celery -A celery_worker.celery beat``."""

    def start(env: dict[str, str] | None = None) -> Service:
        beat = celery_beat({**settings, **(env or {})}, tmp_path).start()
        services.append(beat)
        return beat

    return start


def skip_loudly(reason: str) -> NoReturn:
    """Skip, and say so in the run's warnings summary: a missing tool must not pass quietly."""
    warnings.warn(reason, stacklevel=2)
    pytest.skip(reason)


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def rabbitmq_server() -> Iterator[RabbitMQServer]:
    """A private rabbitmq-server for this session; a loud skip if none is installed."""
    if rabbitmq_binary() is None:
        reason = (
            "RABBITMQ NOT AVAILABLE: no rabbitmq-server installed (make test installs "
            "Debian's package when run as root); broker tests skipped"
        )
        skip_loudly(reason)
    server = RabbitMQServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def rabbitmq_url(request: pytest.FixtureRequest) -> str:
    """RABBITMQ_URL if given, else the private rabbitmq-server's."""
    return os.environ.get("RABBITMQ_URL") or request.getfixturevalue("rabbitmq_server").url
