"""Loopback addresses and free ports: the lab binds nothing outside 127.0.0.0/8."""

from __future__ import annotations

import contextlib
import socket

REGION_HOSTS = {"us-east-1": "127.0.1.1", "us-west-2": "127.0.2.1"}
EDGE_HOST = "127.0.0.1"


def can_bind(host: str, port: int = 0, udp: bool = False) -> bool:
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def region_hosts() -> dict[str, str]:
    """127.0.1.1 / 127.0.2.1 where the kernel routes all of 127/8 to lo (Linux); else 127.0.0.1."""
    if all(can_bind(h) for h in REGION_HOSTS.values()):
        return dict(REGION_HOSTS)
    return {r: EDGE_HOST for r in REGION_HOSTS}


def free_port(host: str = EDGE_HOST, udp_too: bool = False) -> int:
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if not udp_too or can_bind(host, port, udp=True):
            return port
    raise OSError(f"no free port on {host}")


def free_port_on_all(hosts: list[str]) -> int:
    """One port number free on every host (the failover DNS name maps to IPs, not ports)."""
    for _ in range(200):
        port = free_port(hosts[0])
        if all(can_bind(h, port) for h in hosts):
            return port
    raise OSError(f"no port free on all of {hosts}")


def port_in_use(host: str, port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0
