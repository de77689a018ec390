"""A private Redis Sentinel set on free ports: 1 master, 2 replicas, 3 sentinels.

For the failover tests and for trying ``REDIS_SENTINELS`` by hand
(``python -m tools.redis_sentinel`` prints the settings and waits for Ctrl-C).
The sentinels agree on a failure with a quorum of 2 and declare the master
down after ``down_after_ms`` (2 s here: production keeps Redis' 30 s or a
few seconds, as docs/scaling.md says; 1 s on a loaded machine can make a
healthy new master look dead and fail over a second time).
"""

from __future__ import annotations

import time

import redis

from tools.redis_server import RedisServer, redis_binary
from tools.server_group import ServerGroup, serve

MASTER_NAME = "sms-master"


class SentinelServer(RedisServer):
    """``redis-server sentinel.conf --sentinel``: a sentinel needs a config file it can rewrite."""

    def __init__(self, master: RedisServer, down_after_ms: int, quorum: int) -> None:
        super().__init__()
        self.config = self.dir / "sentinel.conf"
        self.config.write_text(
            f"port {self.port}\n"
            f"bind {self.host}\n"
            f"dir {self.dir}\n"
            f"logfile {self.dir / 'sentinel.log'}\n"
            f"sentinel monitor {MASTER_NAME} {master.host} {master.port} {quorum}\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {down_after_ms}\n"
            f"sentinel failover-timeout {MASTER_NAME} {max(3000, down_after_ms * 3)}\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )

    def argv(self) -> list[str]:
        return [redis_binary(), str(self.config), "--sentinel"]


class RedisSentinelSet(ServerGroup):
    """Start with ``start()`` (or ``with``); ``cleanup()`` stops and removes all six."""

    def __init__(self, replicas: int = 2, sentinels: int = 3, down_after_ms: int = 2000) -> None:
        self.master_name = MASTER_NAME
        self.master = RedisServer()
        self.replicas = [
            RedisServer(extra=["--replicaof", self.master.host, str(self.master.port)])
            for _ in range(replicas)
        ]
        self.sentinels = [
            SentinelServer(self.master, down_after_ms, quorum=sentinels // 2 + 1)
            for _ in range(sentinels)
        ]

    @property
    def servers(self) -> list[RedisServer]:
        return [self.master, *self.replicas]

    @property
    def sentinel_addresses(self) -> str:
        """``REDIS_SENTINELS``: ``host:port,...``."""
        return ",".join(s.address for s in self.sentinels)

    def settings(self) -> dict[str, str]:
        return {"REDIS_SENTINELS": self.sentinel_addresses, "REDIS_SENTINEL_MASTER": MASTER_NAME}

    def start(self, timeout: float = 30.0) -> RedisSentinelSet:
        for server in [*self.servers, *self.sentinels]:
            server.start()
        self.wait_until_settled(timeout)
        return self

    def master_address(self) -> tuple[str, int]:
        """The master the first answering sentinel names now."""
        for sentinel in self.sentinels:
            if sentinel.process is None:
                continue
            try:
                client = redis.Redis(sentinel.host, sentinel.port, socket_timeout=1)
                host, port = client.sentinel_get_master_addr_by_name(self.master_name)
                return host.decode() if isinstance(host, bytes) else host, int(port)
            except (redis.RedisError, OSError, TypeError):
                continue
        raise RuntimeError("no sentinel answers")

    def current_master(self) -> RedisServer:
        _, port = self.master_address()
        return next(s for s in self.servers if s.port == port)

    def wait_until_settled(self, timeout: float = 30.0) -> None:
        """Until every sentinel knows every replica (in sync) and every other sentinel."""
        want_replicas, want_sentinels = len(self.servers) - 1, len(self.sentinels) - 1
        deadline = time.monotonic() + timeout
        while True:
            try:
                if all(self._settled(s, want_replicas, want_sentinels) for s in self.sentinels):
                    return
            except (redis.RedisError, OSError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the sentinels did not agree on the replica set in time")
            time.sleep(0.2)

    def _settled(self, sentinel: SentinelServer, replicas: int, sentinels: int) -> bool:
        client = redis.Redis(sentinel.host, sentinel.port, socket_timeout=1, decode_responses=True)
        master = client.sentinel_master(self.master_name)
        up = [
            r
            for r in client.sentinel_slaves(self.master_name)
            if "s_down" not in r["flags"] and r.get("master-link-status") == "ok"
        ]
        return (
            "s_down" not in master["flags"]
            and "o_down" not in master["flags"]
            and len(up) == replicas
            and int(master["num-other-sentinels"]) == sentinels
        )

    def kill_master(self) -> RedisServer:
        """SIGKILL the current master; returns it (``start()`` it again to rejoin)."""
        master = self.current_master()
        master.kill()
        return master

    def wait_for_new_master(self, old_port: int, timeout: float = 30.0) -> tuple[str, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                address = self.master_address()
                if address[1] != old_port:
                    return address
            except RuntimeError:
                pass
            time.sleep(0.1)
        raise TimeoutError("no replica was promoted in time")

    def failovers(self) -> int:
        """How many times the master changed, as the best-informed sentinel logged it."""
        return max(
            (s.dir / "sentinel.log").read_text(errors="replace").count("+switch-master")
            for s in self.sentinels
        )

    def cleanup(self) -> None:
        for server in [*self.sentinels, *self.servers]:
            server.cleanup()


def main() -> None:
    serve(
        RedisSentinelSet(),
        lambda group: "\n".join(f"{name}={value}" for name, value in group.settings().items()),
    )


if __name__ == "__main__":
    main()
