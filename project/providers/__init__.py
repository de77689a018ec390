"""SMS providers behind one small interface, chosen by ``SMS_PROVIDER``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from flask import Flask, current_app

EXTENSION = "sms_provider"


@dataclass(frozen=True)
class SendResult:
    """The provider's answer: ``status_code`` is RongLian's ``statusCode``."""

    status_code: str
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code == "000000"


class SmsProvider(Protocol):
    def send(self, tid: str, mobile: str, datas: Sequence[str]) -> SendResult:
        """Send one template SMS; never raises for a provider-side failure."""
        ...


def init_app(app: Flask) -> None:
    """Build the provider once per app (its SDK object is reused by every task)."""
    config = app.config
    if config["SMS_PROVIDER"] == "ronglian":
        from .ronglian import RongLianProvider

        provider: SmsProvider = RongLianProvider(
            acc_id=config["RONGLIAN_ACC_ID"],
            acc_token=config["RONGLIAN_ACC_TOKEN"],
            app_id=config["RONGLIAN_APP_ID"],
            base_url=config["RONGLIAN_BASE_URL"],
            timeout=config["SMS_PROVIDER_TIMEOUT"],
        )
    else:
        from .console import ConsoleProvider

        provider = ConsoleProvider()
    app.extensions[EXTENSION] = provider


def get_provider(app: Flask | None = None) -> SmsProvider:
    return (app or current_app).extensions[EXTENSION]
