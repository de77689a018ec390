"""Tencent Cloud's delivery reports: the SMS status-callback format.

A JSON array of ``{"user_receive_time", "nationcode", "mobile",
"report_status", "errmsg", "description", "sid"}`` (``sid`` is the send's
``SerialNo``); Tencent expects ``{"result": 0, "errmsg": "OK"}`` back.
Source: https://cloud.tencent.com/document/product/382/52077
(English: https://www.tencentcloud.com/document/product/382/43547).
"""

from __future__ import annotations

from ..reports import BadReport, DeliveryReport, beijing_time, items, message_id

ANSWER = {"result": 0, "errmsg": "OK"}


def parse(payload: object) -> list[DeliveryReport]:
    reports = []
    for item in items(payload):
        status = item.get("report_status")
        if status not in ("SUCCESS", "FAIL"):
            raise BadReport("each report needs report_status SUCCESS or FAIL")
        reports.append(
            DeliveryReport(
                message_id=message_id(item.get("sid"), "sid"),
                delivered=status == "SUCCESS",
                code=str(item.get("errmsg") or ""),
                at=beijing_time(item.get("user_receive_time")),
            )
        )
    return reports
