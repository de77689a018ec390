"""Aliyun's delivery reports: the "HTTP batch push" (SmsReport) format.

A JSON array of ``{"phone_number", "send_time", "report_time", "success",
"err_code", "err_msg", "sms_size", "biz_id", "out_id"}``; Aliyun expects
``{"code": 0, "msg": "..."}`` back, and pushes again otherwise. Source:
https://help.aliyun.com/zh/sms/developer-reference/smsreport-2
"""

from __future__ import annotations

from ..reports import BadReport, DeliveryReport, beijing_time, items, message_id

ANSWER = {"code": 0, "msg": "接收成功"}


def parse(payload: object) -> list[DeliveryReport]:
    reports = []
    for item in items(payload):
        if not isinstance(item.get("success"), bool):
            raise BadReport("each report needs a boolean success")
        reports.append(
            DeliveryReport(
                message_id=message_id(item.get("biz_id"), "biz_id"),
                delivered=item["success"],
                code=str(item.get("err_code") or ""),
                at=beijing_time(item.get("report_time")),
            )
        )
    return reports
