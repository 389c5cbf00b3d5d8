"""Free loopback ports, so a local cluster never collides with another one (or a user's own)."""

from __future__ import annotations

import socket
from collections.abc import Mapping

from .errors import StartError

__all__ = ["HOST", "claim_ports", "free_ports"]

HOST = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that were free a moment ago (all held open together, then released)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def claim_ports(wanted: Mapping[str, int], advice: str) -> None:
    """Raise :class:`StartError` naming each of ``wanted`` (role -> port) not free, then ``advice``."""
    taken = []
    for role, port in wanted.items():
        if not 0 < port < 65536:
            taken.append(f"{role} {port} (not a port)")
            continue
        with socket.socket() as sock:
            # as the servers bind: a port a cluster just stopped with (TIME_WAIT) is free for them
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, port))
            except OSError:
                taken.append(f"{role} {port}")
    if taken:
        raise StartError(f"ports not free on {HOST}: {', '.join(taken)}; {advice}")
