"""``flask sms ...`` commands and the ``flask shell`` context."""

from __future__ import annotations

from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from . import metrics
from .abuse import BudgetExhausted
from .check import run_checks
from .codes import Cooldown, DailyLimit, InvalidChannel, InvalidPurpose, issue_code
from .errors import UNAVAILABLE
from .mobile import InvalidMobile, mask_mobile, validate_mobile
from .queue import queue_stats
from .redis_store import TIMEZONE, get_ledger, get_redis
from .tasks import send_sms

sms = AppGroup("sms", help="Verification codes from the command line.")


@sms.command("send")
@click.argument("mobile")
@click.option("--purpose", default=None, help="one of SMS_PURPOSES (default: the first)")
@click.option("--channel", type=click.Choice(["sms", "voice"]), default="sms", show_default=True)
def send_command(mobile: str, purpose: str | None, channel: str) -> None:
    """Issue a code to MOBILE, exactly as the HTTP endpoint does."""
    try:
        issued = issue_code(mobile, purpose=purpose, channel=channel)
    except InvalidMobile as exc:
        raise click.BadParameter(str(exc), param_hint="MOBILE") from None
    except InvalidPurpose as exc:
        raise click.BadParameter(str(exc), param_hint="--purpose") from None
    except InvalidChannel as exc:
        raise click.BadParameter(str(exc), param_hint="--channel") from None
    except Cooldown as exc:
        raise click.ClickException(f"cooldown: {exc}") from None
    except (DailyLimit, BudgetExhausted) as exc:
        raise click.ClickException(str(exc)) from None
    except UNAVAILABLE as exc:
        raise click.ClickException(f"unavailable: {type(exc).__name__}") from None
    click.echo(f"code issued to {mask_mobile(mobile)}; valid {issued.expires_in} s")


@sms.command("stats")
def stats_command() -> None:
    """Print the shared counters and the send queue (what /metrics serves)."""
    try:
        counts = metrics.totals(get_redis())
        queue = queue_stats()
    except UNAVAILABLE as exc:
        raise click.ClickException(f"unavailable: {type(exc).__name__}") from None
    width = max(map(len, counts))
    for name, value in counts.items():
        click.echo(f"{name:<{width}}  {value}")
    age = "-" if queue.oldest_age is None else f"{queue.oldest_age:.0f} s"
    click.echo(f"{'queue_depth':<{width}}  {queue.depth}")
    click.echo(f"{'queue_oldest_age':<{width}}  {age}")


@sms.command("check")
def check_command() -> None:
    """Settings (secrets masked), Redis, broker, provider, queue, alarms; exit 1 if unhealthy."""
    report = run_checks()
    click.echo(f"settings (APP_CONFIG={current_app.config['NAME']}):")
    width = max(map(len, report.settings))
    for name, value in report.settings.items():
        click.echo(f"  {name:<{width}}  {value}")
    click.echo("checks:")
    for probe in report.probes:
        click.echo(f"  {probe.name:<8}  {'ok' if probe.ok else 'FAIL':<4}  {probe.detail}")
    click.echo("alarms:")
    for alarm in report.alarms or ["none"]:
        click.echo(f"  {alarm}")
    click.echo(report.verdict())
    if not report.healthy:
        raise SystemExit(1)


@sms.command("status")
@click.argument("mobile")
def status_command(mobile: str) -> None:
    """Print the last sends to MOBILE (masked): provider, state and delivery report."""
    try:
        validate_mobile(mobile)
    except InvalidMobile as exc:
        raise click.BadParameter(str(exc), param_hint="MOBILE") from None
    try:
        sends = get_ledger().last_sends(mobile)
    except UNAVAILABLE as exc:
        raise click.ClickException(f"unavailable: {type(exc).__name__}") from None
    if not sends:
        click.echo(f"no recent sends to {mask_mobile(mobile)}")
        return
    for send in sends:
        report = "-"
        if send.get("report_code"):
            report = f"{send['report_code']} at {_when(send.get('reported_at'))}"
        click.echo(
            f"{_when(send.get('queued_at'))}  {send['id']}  {send.get('mobile', '***')}  "
            f"provider={send.get('provider') or '-'}  state={send.get('state')}  report={report}"
        )


def _when(stamp: str | None) -> str:
    if not stamp:
        return "-"
    return datetime.fromtimestamp(float(stamp), TIMEZONE).strftime("%Y-%m-%d %H:%M:%S")


def shell_context() -> dict[str, object]:
    """What ``flask shell`` starts with: ``send_sms.delay(...)`` works as typed."""
    return {
        "app": current_app._get_current_object(),
        "celery": current_app.extensions["celery"],
        "redis": get_redis(),
        "send_sms": send_sms,
    }


def init_app(app: Flask) -> None:
    app.cli.add_command(sms)
    app.shell_context_processor(shell_context)
