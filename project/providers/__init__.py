"""SMS providers behind one small interface, chosen by ``SMS_PROVIDER``.

Each vendor is one module (RongLian, console) or one subpackage once it has
delivery reports (``aliyun/``, ``tencent/``: provider, status table, report
format). Which ones run, and in which order, is configuration: the chain in
``project.delivery`` sends through them and knows only ``base``.
"""

from __future__ import annotations

from types import ModuleType
from urllib.parse import urlencode

from flask import Flask, current_app

from config import endpoint_parts

from .aliyun import reports as aliyun_reports
from .base import Action, SendResult, SmsProvider, Verdict
from .tencent import reports as tencent_reports

__all__ = ["REPORT_FORMATS", "Action", "SendResult", "SmsProvider", "Verdict", "get_providers"]

EXTENSION = "sms_providers"

# The vendors that push delivery reports, and the module reading their format.
REPORT_FORMATS: dict[str, ModuleType] = {"aliyun": aliyun_reports, "tencent": tencent_reports}


def build(name: str, config: dict) -> SmsProvider:
    """The provider ``name`` from the app's settings; its SDK client is reused by every send."""
    default_purpose = config["SMS_PURPOSES"][0]
    timeout = config["SMS_PROVIDER_TIMEOUT"]
    if name == "ronglian":
        from .ronglian import RongLianProvider, VoiceSettings

        return RongLianProvider(
            acc_id=config["RONGLIAN_ACC_ID"],
            acc_token=config["RONGLIAN_ACC_TOKEN"],
            app_id=config["RONGLIAN_APP_ID"],
            base_url=config["RONGLIAN_BASE_URL"],
            timeout=timeout,
            voice=VoiceSettings(
                display_num=config["RONGLIAN_VOICE_DISPLAY_NUM"],
                play_times=config["RONGLIAN_VOICE_PLAY_TIMES"],
                lang=config["RONGLIAN_VOICE_LANG"],
                resp_url=voice_result_url(config),
            ),
        )
    if name == "aliyun":
        from .aliyun.provider import AliyunProvider

        scheme, host = endpoint_parts("ALIYUN_ENDPOINT", config["ALIYUN_ENDPOINT"])
        return AliyunProvider(
            access_key_id=config["ALIYUN_ACCESS_KEY_ID"],
            access_key_secret=config["ALIYUN_ACCESS_KEY_SECRET"],
            sign_name=config["ALIYUN_SIGN_NAME"],
            templates=config["ALIYUN_TEMPLATES"],
            default_purpose=default_purpose,
            scheme=scheme,
            host=host,
            timeout=timeout,
            minutes_variable=config["ALIYUN_MINUTES_VARIABLE"],
        )
    if name == "tencent":
        from .tencent.provider import TencentProvider

        scheme, host = endpoint_parts("TENCENT_ENDPOINT", config["TENCENT_ENDPOINT"])
        return TencentProvider(
            secret_id=config["TENCENT_SECRET_ID"],
            secret_key=config["TENCENT_SECRET_KEY"],
            sdk_app_id=config["TENCENT_SMS_SDK_APP_ID"],
            sign_name=config["TENCENT_SIGN_NAME"],
            templates=config["TENCENT_TEMPLATES"],
            default_purpose=default_purpose,
            region=config["TENCENT_REGION"],
            scheme=scheme,
            host=host,
            timeout=timeout,
        )
    from .console import ConsoleProvider

    return ConsoleProvider()


def voice_result_url(config: dict) -> str:
    """Where RongLian pushes a voice call's result: ``SMS_PUBLIC_URL`` + route + token."""
    base, token = config["SMS_PUBLIC_URL"], config["SMS_CALLBACK_TOKEN"]
    if not (base and token):
        return ""
    return f"{base}/callbacks/ronglian/voice?{urlencode({'token': token})}"


def init_app(app: Flask) -> None:
    """Build the configured providers once per app, in chain order."""
    app.extensions[EXTENSION] = [build(name, app.config) for name in app.config["SMS_PROVIDERS"]]


def get_providers(app: Flask | None = None) -> list[SmsProvider]:
    return (app or current_app).extensions[EXTENSION]
