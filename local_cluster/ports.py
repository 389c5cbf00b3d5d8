"""Free loopback ports, so a local cluster never collides with another one (or a user's own)."""

from __future__ import annotations

import socket

__all__ = ["HOST", "free_ports"]

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
