"""A worker for the CPU-bound measurement: the real send path, a provider that costs nothing.

``celery -A bench.null_worker.celery worker`` runs ``send_sms`` exactly as
production does (app context, ledger, unseal, counters, logging) except that
the provider answers success at once, and a bare ``bench_noop`` task: the
floor, under the very same worker settings.
"""

from collections.abc import Sequence

from celery import Task

from celery_worker import app, celery
from project.providers import EXTENSION, SendResult


class NullProvider:
    def send(self, tid: str, mobile: str, datas: Sequence[str]) -> SendResult:
        return SendResult("000000")


app.extensions[EXTENSION] = NullProvider()


@celery.task(name="bench_noop", base=Task, ignore_result=True)
def bench_noop(*args: object) -> None:
    """The floor: what Celery itself costs per message (a plain Task, no app context)."""


__all__ = ["celery"]
