"""Network namespaces as hosts: a private subnet that exists only inside them.

``Network(["data", "web", "w1", "w2"])`` makes one namespace per host plus a
hub namespace holding a bridge; each host gets a veth pair whose far end sits
on that bridge and an address of 10.213.7.0/24. Nothing is added to the
machine's own namespace, so no traffic can leave it. ``cut(host)`` takes the
host's link down (a pulled cable), ``restore(host)`` brings it back.

Processes run in a host with ``prefix(host) + argv`` (``ip netns exec``);
the calling thread can step in with ``inside(host)`` (setns), so a socket it
opens belongs to that host. Needs root and iproute2: ``unavailable()`` says
why not, for a skip.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
from collections.abc import Iterator

CLONE_NEWNET = 0x40000000
SUBNET = "10.213.7"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def unavailable() -> str | None:
    """Why namespaces cannot be built here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    if shutil.which("ip") is None:
        return "iproute2 (the ip command) is not installed"
    probe = f"sms-probe-{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except (subprocess.CalledProcessError, OSError) as exc:
        return f"ip netns add failed: {getattr(exc, 'stderr', b'')!r}"
    _ip("netns", "del", probe)
    return None


def _setns(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    with open(path) as handle:
        if libc.setns(handle.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")


class Network:
    """Start with ``start()`` (or ``with``); ``cleanup()`` deletes every namespace."""

    def __init__(self, hosts: list[str]) -> None:
        tag = f"sms{os.getpid() % 100000}"
        self.namespaces = {host: f"{tag}-{host}" for host in hosts}
        self.hub = f"{tag}-hub"
        self.addresses = {host: f"{SUBNET}.{10 + i}" for i, host in enumerate(hosts)}

    def start(self) -> Network:
        try:
            _ip("netns", "add", self.hub)
            _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.hub, "link", "set", "br0", "up")
            for i, (host, ns) in enumerate(self.namespaces.items()):
                _ip("netns", "add", ns)
                _ip("-n", ns, "link", "set", "lo", "up")
                port = f"port{i}"
                _ip(
                    "-n", self.hub, "link", "add", port, "type", "veth", "peer", "eth0", "netns", ns
                )
                _ip("-n", self.hub, "link", "set", port, "master", "br0", "up")
                _ip("-n", ns, "addr", "add", f"{self.addresses[host]}/24", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "up")
        except BaseException:
            self.cleanup()
            raise
        return self

    def prefix(self, host: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespaces[host]]

    def cut(self, host: str) -> None:
        """Link down on the host's side: its packets go nowhere, nothing answers them."""
        _ip("-n", self.namespaces[host], "link", "set", "eth0", "down")

    def restore(self, host: str) -> None:
        _ip("-n", self.namespaces[host], "link", "set", "eth0", "up")

    @contextlib.contextmanager
    def inside(self, host: str) -> Iterator[None]:
        """Run the calling thread in ``host``'s namespace for the block."""
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            _setns(f"/var/run/netns/{self.namespaces[host]}")
            yield
        finally:
            _setns(f"/proc/self/fd/{home}")
            os.close(home)

    def cleanup(self) -> None:
        for ns in [*self.namespaces.values(), self.hub]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)

    def __enter__(self) -> Network:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
