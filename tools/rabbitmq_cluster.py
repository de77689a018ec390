"""A private 3-node RabbitMQ cluster on one host, for the quorum-queue failover test.

Each node is a ``RabbitMQServer`` with its own node name, ports and data
folder; all share one Erlang cookie, and nodes 2 and 3 ``join_cluster`` the
first. On a small machine each node runs one scheduler thread (``+S 1``), so
three Erlang VMs do not fight over 2 cores. ``python -m tools.rabbitmq_cluster``
prints the ``;``-separated ``CELERY_BROKER_URL`` and waits for Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import time

from tools.rabbitmq_server import RabbitMQServer
from tools.server_group import ServerGroup, serve


class RabbitMQCluster(ServerGroup):
    """Start with ``start()`` (or ``with``); ``cleanup()`` stops and removes every node."""

    def __init__(self, size: int = 3) -> None:
        cookie = secrets.token_hex(16)
        erl_args = "+S 1:1" if (os.cpu_count() or 1) <= 2 else ""
        self.nodes = [RabbitMQServer(cookie=cookie, erl_args=erl_args) for _ in range(size)]

    @property
    def url(self) -> str:
        """``CELERY_BROKER_URL``: every node, ``;``-separated (kombu fails over in order)."""
        return ";".join(node.url for node in self.nodes)

    def start(self) -> RabbitMQCluster:
        first, *others = self.nodes
        first.start()
        for node in others:
            node.start()
            node.ctl("stop_app")
            node.ctl("join_cluster", first.node)
            node.ctl("start_app")
        running = first.ctl("eval", "length(rabbit_nodes:all_running()).").strip()
        if running != str(len(self.nodes)):
            raise RuntimeError(f"only {running} of {len(self.nodes)} nodes are running")
        return self

    def node_named(self, name: str) -> RabbitMQServer:
        return next(node for node in self.nodes if node.node == name)

    def running(self) -> list[RabbitMQServer]:
        return [n for n in self.nodes if n.service and n.service.process.poll() is None]

    def leader(self, queue: str) -> RabbitMQServer:
        """The node that leads the quorum queue ``queue`` now."""
        for node in self.running():
            for line in node.ctl("list_queues", "name", "leader", "--quiet").splitlines():
                fields = line.split()
                if len(fields) == 2 and fields[0] == queue:
                    return self.node_named(fields[1])
        raise RuntimeError(f"no leader found for {queue!r}")

    def wait_for_leader(self, queue: str, timeout: float = 60.0) -> RabbitMQServer:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.leader(queue)
            except (RuntimeError, StopIteration):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def cleanup(self) -> None:
        for node in reversed(self.nodes):
            node.cleanup()


def main() -> None:
    serve(RabbitMQCluster(), lambda cluster: f"CELERY_BROKER_URL='{cluster.url}'")


if __name__ == "__main__":
    main()
