"""The development provider: the code goes to the worker log, not to a phone.

This is the one place a code is deliberately shown; production refuses it
unless ``SMS_ALLOW_CONSOLE`` is set.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..mobile import mask_mobile
from . import SendResult

logger = logging.getLogger(__name__)


class ConsoleProvider:
    def send(self, tid: str, mobile: str, datas: Sequence[str]) -> SendResult:
        code, minutes = [*datas, "", ""][:2]
        logger.warning("SMS to %s: code %s (valid %s min)", mask_mobile(mobile), code, minutes)
        return SendResult("000000", "console")
