"""`flask sms send` and the `flask shell` context."""

from __future__ import annotations

from project.cli import shell_context


def test_sms_send_issues_a_code_like_the_endpoint(runner, redis_url):
    result = runner.invoke(args=["sms", "send", "13812345678"])

    assert result.exit_code == 0, result.output
    assert "code issued to 138****5678" in result.output
    assert "13812345678" not in result.output


def test_sms_send_reports_the_cooldown_and_bad_numbers(runner, redis_url):
    runner.invoke(args=["sms", "send", "13812345678"])

    again = runner.invoke(args=["sms", "send", "13812345678"])
    assert again.exit_code == 1
    assert "cooldown: retry in" in again.output

    bad = runner.invoke(args=["sms", "send", "12345"])
    assert bad.exit_code == 2
    assert "mobile must be 11 digits" in bad.output


def test_sms_send_takes_a_purpose_and_a_channel(runner, redis_url):
    from tests.test_purposes import queued

    voice = runner.invoke(
        args=["sms", "send", "13812345678", "--purpose", "login", "--channel", "voice"]
    )
    assert voice.exit_code == 0, voice.output
    assert queued(redis_url)[-1][1] == {"purpose": "login", "channel": "voice"}

    bad = runner.invoke(args=["sms", "send", "13987654321", "--purpose", "payment"])
    assert bad.exit_code == 2
    assert "purpose must be one of register, login, reset_password" in bad.output


def test_shell_context_holds_what_send_sms_delay_needs(app):
    with app.app_context():
        context = shell_context()

    assert set(context) == {"app", "celery", "redis", "send_sms"}
    assert context["app"] is app
    assert context["redis"].ping()
    assert context["send_sms"].name == "send_sms"


def test_sms_stats_prints_the_shared_counters_and_the_queue(runner, redis_url):
    runner.invoke(args=["sms", "send", "13812345678"])
    runner.invoke(args=["sms", "send", "13812345678"])

    result = runner.invoke(args=["sms", "stats"])

    assert result.exit_code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.output.splitlines())
    assert lines["codes_requested"] == "2"
    assert lines["codes_issued"] == "1"
    assert lines["cooldown_refusals"] == "1"
    assert lines["queue_depth"] == "1"
    assert lines["queue_oldest_age"].endswith(" s")
