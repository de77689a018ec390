"""The send task: bound to the app context, silent about secrets."""

from __future__ import annotations

from project.tasks import send_sms

MOBILE = "13812345678"


def test_the_task_runs_in_the_app_context_and_reaches_the_provider(app, sim):
    celery = app.extensions["celery"]
    task = celery.tasks["send_sms"]

    task.apply(("1", MOBILE, ["123456", "5"]))  # FlaskTask pushes the app context itself

    [sms] = sim.requests()
    assert (sms["to"], sms["datas"], sms["status"]) == (MOBILE, ["123456", "5"], "000000")


def test_a_failed_send_is_logged_with_status_and_masked_mobile(app, sim, caplog):
    sim.script({"status": "160042"})

    app.extensions["celery"].tasks["send_sms"].apply(("1", MOBILE, ["123456", "5"]))

    assert "138****5678" in caplog.text and "160042" in caplog.text
    assert MOBILE not in caplog.text and "123456" not in caplog.text


def test_the_shared_task_is_registered_under_its_contract_name(app):
    assert send_sms.name == "send_sms"
    assert "send_sms" in app.extensions["celery"].tasks


def test_a_code_sealed_under_another_secret_key_is_not_sent(app, settings, sim, caplog):
    from project import create_app
    from project.sealing import seal

    other = create_app({**settings, "SECRET_KEY": "another-key"})
    with other.app_context():
        sealed = seal("123456", MOBILE, 300)

    app.extensions["celery"].tasks["send_sms"].apply(("1", MOBILE, [sealed, "5"]))

    assert sim.requests() == []
    assert "SECRET_KEY" in caplog.text


def test_an_outcome_redis_cannot_record_still_ends_the_send_cleanly(app, sim, monkeypatch, caplog):
    import redis

    from project.redis_store import SendLedger

    def lost(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Redis went away")

    monkeypatch.setattr(SendLedger, "finish", lost)

    result = app.extensions["celery"].tasks["send_sms"].apply(("1", MOBILE, ["123456", "5"]))

    assert result.successful()  # acknowledged, not failed: the SMS went out
    assert len(sim.delivered()) == 1
    assert "outcome not recorded" in caplog.text


def test_a_sealed_code_copied_into_a_send_for_another_mobile_is_refused_and_counted(
    app, sim, caplog
):
    from project import metrics
    from project.redis_store import get_redis
    from project.sealing import seal

    victim, attacker = MOBILE, "13900001111"
    with app.app_context():
        sealed = seal("654321", victim, 300)

    app.extensions["celery"].tasks["send_sms"].apply(("1", attacker, [sealed, "5"]))

    assert sim.requests() == []  # the attacker's phone gets nothing
    assert "does not open for this mobile" in caplog.text
    assert "139****1111" in caplog.text and attacker not in caplog.text
    assert metrics.totals(get_redis(app))[metrics.SEALS_REFUSED] == 1


def test_a_keyword_call_sends_and_leaks_nothing_in_its_representations(app, sim):
    from project.tasks import _mask_logged_args

    headers = {}
    body = ((), {"tid": "1", "mobile": MOBILE, "datas": ["123456", "5"]}, {})
    _mask_logged_args(sender="send_sms", headers=headers, body=body)

    assert MOBILE not in headers["kwargsrepr"] and "123456" not in headers["kwargsrepr"]
    assert "138****5678" in headers["kwargsrepr"]

    app.extensions["celery"].tasks["send_sms"].apply(
        kwargs={"tid": "1", "mobile": MOBILE, "datas": ["123456", "5"]}
    )
    [sms] = sim.requests()
    assert (sms["to"], sms["datas"]) == (MOBILE, ["123456", "5"])


def test_sends_published_in_a_row_all_reach_the_queue_through_one_reused_redis_client(
    app, redis_url
):
    from redis import Redis

    from project.tasks import enqueue_send

    celery = app.extensions["celery"]
    with app.app_context():
        for n in range(3):
            enqueue_send("1", f"1381234567{n}", ["sealed:x", "5"], 300, "login")

    assert Redis.from_url(redis_url).llen(celery.conf.task_default_queue) == 3
    with celery.connection_for_write() as conn:
        channel = conn.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second  # not a new redis-py client per command (make profile)
