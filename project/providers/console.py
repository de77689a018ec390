"""The development provider: the code goes to the worker log, not to a phone.

This is the one place a code is deliberately shown; production refuses it
unless ``SMS_ALLOW_CONSOLE`` is set.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..mobile import mask_mobile
from .base import SENT, SendResult

logger = logging.getLogger(__name__)


class ConsoleProvider:
    name = "console"

    def send(
        self, tid: str, mobile: str, datas: Sequence[str], purpose: str | None = None
    ) -> SendResult:
        code, minutes = [*datas, "", ""][:2]
        logger.warning("SMS to %s: code %s (valid %s min)", mask_mobile(mobile), code, minutes)
        return SendResult(self.name, "000000", SENT, None, "console")

    def call(self, mobile: str, code: str, purpose: str | None = None) -> SendResult:
        """A voice code, as the call would read it out."""
        logger.warning("voice call to %s: code %s (%s)", mask_mobile(mobile), code, purpose)
        return SendResult(self.name, "000000", SENT, None, "console")
