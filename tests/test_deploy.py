"""The deployment files run the contract's commands from the documented places."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
COMMANDS = {
    "web": "/srv/sms/.venv/bin/gunicorn wsgi:app",
    "worker": "/srv/sms/.venv/bin/celery -A celery_worker.celery worker",
    "beat": "/srv/sms/.venv/bin/celery -A celery_worker.celery beat",
}


def read(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.read_string(path.read_text().replace("\\\n", " "))
    return parser


@pytest.mark.parametrize("role", sorted(COMMANDS))
def test_each_systemd_unit_runs_its_command_with_the_settings_file(role):
    unit = read(DEPLOY / "systemd" / f"sms-{role}.service")

    assert COMMANDS[role] in " ".join(unit["Service"]["ExecStart"].split())
    assert unit["Service"]["EnvironmentFile"] == "/etc/sms/sms.env"
    assert unit["Service"]["WorkingDirectory"] == "/srv/sms"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_supervisord_runs_the_three_programs_with_the_settings_file():
    conf = read(DEPLOY / "supervisord.conf")

    assert conf["group:sms"]["programs"] == "sms-web,sms-worker,sms-beat"
    for role, command in COMMANDS.items():
        program = conf[f"program:sms-{role}"]
        assert command in program["command"]
        assert ". /etc/sms/sms.env" in program["command"]


def test_the_example_settings_name_every_required_production_setting():
    example = (DEPLOY / "sms.env.example").read_text()

    for name in (
        "APP_CONFIG=production",
        "SECRET_KEY=",
        "RONGLIAN_ACC_ID=",
        "RONGLIAN_ACC_TOKEN=",
        "RONGLIAN_APP_ID=",
        "REDIS_URL=",
    ):
        assert name in example


def test_beat_runs_beside_every_worker_because_redbeat_lets_one_act():
    from config import load_config

    celery = load_config({"APP_CONFIG": "testing"}).CELERY
    unit = read(DEPLOY / "systemd" / "sms-beat.service")
    program = read(DEPLOY / "supervisord.conf")["program:sms-beat"]

    assert celery["beat_scheduler"] == "redbeat.RedBeatScheduler"
    for command in (unit["Service"]["ExecStart"], program["command"]):
        assert "--schedule" not in command  # no per-host schedule file: it lives in Redis
