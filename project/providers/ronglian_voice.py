"""RongLian's voice-verify result notice (语音验证码状态通知), pushed to ``respUrl``.

After the call RongLian POSTs (``text/plain``) ``<Request><action>VoiceCode
</action><callSid/><number/><state/><duration/><userData/></Request>``;
``state`` 0 = answered and read out, 1 = not answered, 2 = the call failed.
It expects ``<Response><statuscode>000000</statuscode></Response>`` back.
The same fields as a JSON object are accepted too, and answered in JSON.
Source: https://doc.yuntongxun.com/p/5a533e563b8496dd00dce0a7
"""

from __future__ import annotations

import json
import time
from xml.etree import ElementTree

from .reports import BadReport, DeliveryReport, message_id

ANSWERED = "0"
FIELDS = ("action", "callSid", "number", "state", "duration", "userData")
XML_ANSWER = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><statuscode>000000</statuscode></Response>'
)
JSON_ANSWER = {"statusCode": "000000"}


def read(raw: bytes) -> tuple[dict[str, object], bool]:
    """The notice's fields, and whether it came as XML (to answer in kind)."""
    text = raw.strip()
    if text.startswith(b"<"):
        if b"<!DOCTYPE" in text.upper() or b"<!ENTITY" in text.upper():
            raise BadReport("no DTD in a notice")  # no entity tricks, whatever the parser
        try:
            root = ElementTree.fromstring(text)
        except ElementTree.ParseError:
            raise BadReport("not well-formed XML") from None
        return {name: root.findtext(name) for name in FIELDS}, True
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        raise BadReport("neither XML nor JSON") from None
    if not isinstance(payload, dict):
        raise BadReport("a notice object is expected")
    return payload, False


def parse(notice: dict[str, object]) -> list[DeliveryReport]:
    if notice.get("action") != "VoiceCode":
        raise BadReport("a VoiceCode notice is expected")
    state = notice.get("state")
    if isinstance(state, bool) or not isinstance(state, str | int):
        raise BadReport("the notice needs a state")
    return [
        DeliveryReport(
            message_id=message_id(notice.get("callSid"), "callSid"),
            delivered=str(state) == ANSWERED,
            code=f"voice:{state}",
            at=time.time(),
        )
    ]
