"""A worker for the CPU-bound measurement: the real send path, a provider that costs nothing.

``celery -A bench.null_worker.celery worker`` runs ``send_sms`` exactly as
production does (app context, ledger, unseal, counters, logging) except that
the provider answers success at once, and a bare ``bench_noop`` task: the
floor, under the very same worker settings.
"""

from collections.abc import Sequence

from celery import Task

from celery_worker import app, celery
from project.delivery.chain import CHAIN, ProviderChain, get_chain
from project.providers.base import SENT, SendResult


class NullProvider:
    name = "null"

    def send(
        self, tid: str, mobile: str, datas: Sequence[str], purpose: str | None = None
    ) -> SendResult:
        return SendResult(self.name, "000000", SENT)


# The chain as production builds it (breakers, send ledger), over the null provider.
_chain = get_chain(app)
app.extensions[CHAIN] = ProviderChain([NullProvider()], _chain.breakers, _chain.ledger)


@celery.task(name="bench_noop", base=Task, ignore_result=True)
def bench_noop(*args: object) -> None:
    """The floor: what Celery itself costs per message (a plain Task, no app context)."""


__all__ = ["celery"]
