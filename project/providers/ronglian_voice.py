"""RongLian's voice-verify result notice (语音验证码状态通知), pushed to ``respUrl``.

One JSON object per call: ``{"action": "VoiceCode", "callSid", "number",
"state", "duration", "userData"}``; ``state`` "0" means the call was
answered and the code read out. RongLian expects ``{"statusCode": "000000"}``
back, and pushes again otherwise.
"""

from __future__ import annotations

import time

from .reports import BadReport, DeliveryReport, message_id

ANSWER = {"statusCode": "000000"}
ANSWERED = "0"


def parse(payload: object) -> list[DeliveryReport]:
    if not isinstance(payload, dict) or payload.get("action") != "VoiceCode":
        raise BadReport("a VoiceCode notice object is expected")
    state = payload.get("state")
    if isinstance(state, bool) or not isinstance(state, str | int):
        raise BadReport("the notice needs a state")
    return [
        DeliveryReport(
            message_id=message_id(payload.get("callSid"), "callSid"),
            delivered=str(state) == ANSWERED,
            code=f"voice:{state}",
            at=time.time(),
        )
    ]
