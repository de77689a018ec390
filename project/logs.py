"""One logging setup for web and worker, with mobiles masked on every line.

Masking is a filter on the handlers, not a habit of the callers, so a mobile
in a third-party message (a path in an error, a provider's reply) is masked
too.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import after_setup_logger, after_setup_task_logger

from .mobile import mask_mobiles_in

FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


class RedactFilter(logging.Filter):
    """Masks mobile numbers in the message and in the traceback text."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_mobiles_in(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_mobiles_in(self._formatter.formatException(record.exc_info))
        return True


def redact_handlers(logger: logging.Logger) -> None:
    """Add the filter to every handler of ``logger`` that lacks it."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactFilter) for f in handler.filters):
            handler.addFilter(RedactFilter())


def configure_logging(level: str) -> None:
    """Give the root logger one masked stderr handler (web, CLI, shell)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    redact_handlers(root)
    root.setLevel(level)


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_celery_logs(logger: logging.Logger, **_: Any) -> None:
    """The worker replaces the root handlers with its own: mask those too."""
    redact_handlers(logger)
    # At DEBUG the pool logs every task's raw arguments (the code among them).
    logging.getLogger("celery.pool").setLevel(max(logging.INFO, logger.getEffectiveLevel()))
