"""A private Redis Cluster of 3 masters on free ports, for the code-store tests.

``redis-server --cluster-enabled yes`` three times, then
``redis-cli --cluster create`` to hand out the 16384 slots. No replicas: the
tests exercise slot routing and single-slot scripts, not cluster failover.
``python -m tools.redis_cluster`` prints ``REDIS_CLUSTER_NODES`` and waits.
"""

from __future__ import annotations

import socket
import subprocess
import time

import redis
from redis.cluster import RedisCluster

from tools.redis_server import RedisServer, free_port
from tools.server_group import ServerGroup, serve

BUS_OFFSET = 10000  # a cluster node also listens on its port + 10000


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is a valid, free port too."""
    while True:
        port = free_port()
        if port + BUS_OFFSET > 65535:
            continue
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port + BUS_OFFSET))
            return port
        except OSError:
            continue


class RedisClusterServers(ServerGroup):
    """Start with ``start()`` (or ``with``); ``cleanup()`` stops and removes every node."""

    def __init__(self, masters: int = 3) -> None:
        # nodes.conf lives in each node's private --dir.
        args = ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]
        self.nodes = [RedisServer(cluster_port(), extra=args) for _ in range(masters)]

    @property
    def addresses(self) -> str:
        """``REDIS_CLUSTER_NODES``: ``host:port,...``."""
        return ",".join(node.address for node in self.nodes)

    def start(self, timeout: float = 30.0) -> RedisClusterServers:
        for node in self.nodes:
            node.start()
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(n.address for n in self.nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        deadline = time.monotonic() + timeout
        while not self._ok():
            if time.monotonic() > deadline:
                raise TimeoutError("the cluster did not reach cluster_state:ok")
            time.sleep(0.2)
        return self

    def _ok(self) -> bool:
        for node in self.nodes:
            info = redis.Redis(node.host, node.port, socket_timeout=1).cluster("info")
            if info.get("cluster_state") != "ok":
                return False
        return True

    def client(self) -> RedisCluster:
        """A cluster client, for tests that look at keys directly."""
        first = self.nodes[0]
        return RedisCluster(host=first.host, port=first.port)

    def flushall(self) -> None:
        for node in self.nodes:
            redis.Redis(node.host, node.port).flushall()

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()


def main() -> None:
    serve(RedisClusterServers(), lambda cluster: f"REDIS_CLUSTER_NODES={cluster.addresses}")


if __name__ == "__main__":
    main()
