"""The HTTP contract of /users/sms/<mobile>, in process, against the private Redis."""

from __future__ import annotations

import pytest

from project import create_app
from tests.conftest import store_keys
from tests.test_mobile import BAD

pytestmark = pytest.mark.code_store

MOBILE = "13812345678"


def test_a_code_is_issued_with_its_interval_and_expiry(client):
    answer = client.post(f"/users/sms/{MOBILE}")

    assert answer.status_code == 200
    assert answer.json == {"errmsg": "OK", "interval": 60, "expires_in": 300}


def test_get_works_too_for_older_clients(client):
    assert client.get(f"/users/sms/{MOBILE}").status_code == 200


def test_a_second_request_inside_the_cooldown_is_refused_with_retry_after(client):
    client.post(f"/users/sms/{MOBILE}")

    answer = client.post(f"/users/sms/{MOBILE}")

    assert answer.status_code == 429
    assert answer.json["error"] == "cooldown"
    assert 59 <= answer.json["interval"] <= 60
    assert answer.headers["Retry-After"] == str(answer.json["interval"])


@pytest.mark.parametrize("value", [b for b in BAD if b and "\n" not in b and b.strip() == b])
def test_each_bad_mobile_gets_a_json_400(client, value):
    answer = client.post(f"/users/sms/{value}")

    assert answer.status_code == 400
    assert answer.is_json
    assert answer.json["error"] == "invalid_mobile"


@pytest.mark.parametrize("path", ["%2013812345678", "13812345678%20", "13812345678%0A"])
def test_whitespace_around_a_mobile_is_refused(client, path):
    answer = client.post(f"/users/sms/{path}")

    assert (answer.status_code, answer.json["error"]) == (400, "invalid_mobile")


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/nowhere", 404, "not_found"),
        ("DELETE", f"/users/sms/{MOBILE}", 405, "method_not_allowed"),
        ("GET", f"/users/sms/{MOBILE}/verify", 405, "method_not_allowed"),
    ],
)
def test_http_errors_answer_json_not_html(client, method, path, status, error):
    answer = client.open(path, method=method)

    assert answer.status_code == status
    assert answer.is_json
    assert answer.json["error"] == error
    assert answer.json["errmsg"]


def test_an_unexpected_error_is_a_json_500_without_traceback(app, client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError(f"boom for {MOBILE}")

    monkeypatch.setattr("project.sms.views.issue_code", broken)

    answer = client.post(f"/users/sms/{MOBILE}")

    assert answer.status_code == 500
    assert answer.json == {"error": "internal_error", "errmsg": "服务器内部错误，请稍后重试"}


def test_redis_down_is_a_json_503(settings, unused_port):
    app = create_app({**settings, "REDIS_URL": f"redis://127.0.0.1:{unused_port}/0"})

    answer = app.test_client().post(f"/users/sms/{MOBILE}")

    assert answer.status_code == 503
    assert answer.json["error"] == "unavailable"


def test_broker_down_leaves_no_cooldown_and_no_code(settings, store, unused_port):
    app = create_app({**settings, "CELERY_BROKER_URL": f"redis://127.0.0.1:{unused_port}/0"})

    answer = app.test_client().post(f"/users/sms/{MOBILE}")

    assert answer.status_code == 503
    assert answer.json["error"] == "unavailable"
    assert store_keys(store, "sms:{*") == []


def test_health_and_readiness(client, settings, unused_port, store_backend):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").status_code == 200

    broken = create_app({**settings, "REDIS_URL": f"redis://127.0.0.1:{unused_port}/0"})
    answer = broken.test_client().get("/readyz")
    assert answer.status_code == 503
    # On a cluster the code store is elsewhere: REDIS_URL is then the broker only.
    expected = ["broker"] if store_backend == "cluster" else ["redis", "broker"]
    assert answer.json["failed"] == expected
