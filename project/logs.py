"""One logging setup for web and worker: masked mobiles, text or JSON lines.

Masking is a filter on the handlers, not a habit of the callers, so a mobile
in a third-party message (a path in an error, a provider's reply) is masked
too. ``LOG_FORMAT=json`` turns every line into one JSON object; lines
written while a send runs carry its ``task_id`` and masked ``mobile``.
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery.signals import after_setup_logger, after_setup_task_logger
from pythonjsonlogger.json import JsonFormatter

from .mobile import mask_mobiles_in

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"

_send: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "sms_send", default=None
)
_json_lines = False
# The callback token travels in the query string (``?token=``): access-log
# request lines and error messages would show it.
_TOKEN_IN_TEXT = re.compile(r"(?i)((?:^|[?&\s])token=)[^&\s\"']+")


def redact(text: str) -> str:
    """Mask mobiles and query-string tokens in free text."""
    return _TOKEN_IN_TEXT.sub(r"\1***", mask_mobiles_in(text))


# The attributes every LogRecord has; anything else is an ``extra`` that the
# JSON formatter writes out (Celery passes the task's arguments as ``data``).
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "task_id",
    "mobile",
}


def _scrub(value: Any) -> Any:
    """Mobiles masked in every string of an ``extra``, however deeply nested."""
    if isinstance(value, str):
        return mask_mobiles_in(value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


class RedactFilter(logging.Filter):
    """Masks mobiles and tokens in the message and the traceback text, mobiles in every extra."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        for name in vars(record).keys() - _RECORD_FIELDS:
            setattr(record, name, _scrub(getattr(record, name)))
        if record.exc_info:
            # Formatters would render exc_info afresh, unmasked: keep only the text.
            text = record.exc_text or self._formatter.formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(text), None
        return True


class SendContextFilter(logging.Filter):
    """Adds ``task_id`` and masked ``mobile`` to records written during a send."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _send.get()
        if context:
            record.task_id, record.mobile = context
        return True


@contextmanager
def send_context(task_id: str, masked_mobile: str) -> Iterator[None]:
    token = _send.set((task_id, masked_mobile))
    try:
        yield
    finally:
        _send.reset(token)


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        JSON_FIELDS,
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    )


def prepare_handlers(logger: logging.Logger) -> None:
    """Mask and annotate every handler of ``logger``; JSON formatting when chosen."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactFilter) for f in handler.filters):
            handler.addFilter(SendContextFilter())
            handler.addFilter(RedactFilter())
        if _json_lines:
            handler.setFormatter(json_formatter())


def configure_logging(level: str, fmt: str = "text") -> None:
    """Give the root logger one prepared stderr handler (web, CLI, shell)."""
    global _json_lines
    _json_lines = fmt == "json"
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
        root.addHandler(handler)
    prepare_handlers(root)
    root.setLevel(level)


@after_setup_logger.connect
@after_setup_task_logger.connect
def _prepare_celery_logs(logger: logging.Logger, **_: Any) -> None:
    """The worker replaces the root handlers with its own: prepare those too."""
    prepare_handlers(logger)
    # At DEBUG the pool logs every task's raw arguments (the sealed code among them).
    logging.getLogger("celery.pool").setLevel(max(logging.INFO, logger.getEffectiveLevel()))
