"""What the private server groups (Redis Cluster, Sentinel set, RabbitMQ cluster) share.

``with`` starts a group and always cleans it up, a start that fails half-way
included; ``serve`` is their standalone use: start, print the settings that
point the service at the group, and keep it until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Self, TypeVar


class ServerGroup:
    """Subclasses define ``start`` (returning self) and ``cleanup`` (stop and remove all)."""

    def start(self) -> Self:
        raise NotImplementedError

    def cleanup(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


G = TypeVar("G", bound=ServerGroup)


def serve(group: G, settings: Callable[[G], str]) -> None:
    """Start ``group``, print ``settings(group)``, and keep it running until Ctrl-C."""
    with group, contextlib.suppress(KeyboardInterrupt):
        print(settings(group), flush=True)
        while True:
            time.sleep(3600)
