"""The TCP sockets a process listens on, read from ``/proc`` (Linux)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

__all__ = ["listening"]

_LISTEN = "0A"


def _address(hex_address: str) -> str:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    # /proc prints each 32-bit word in host (little-endian) order
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(words)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return f"{ip}:{int(port, 16)}"


def _listening_inodes(pid: int) -> dict[str, str]:
    found = {}
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == _LISTEN:
                found[fields[9]] = _address(fields[1])
    return found


def listening(pid: int) -> list[str]:
    """``host:port`` of every TCP socket process ``pid`` listens on (IPv4-mapped addresses as IPv4)."""
    inodes = _listening_inodes(pid)
    addresses = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:[") and target[8:-1] in inodes:
            addresses.append(inodes[target[8:-1]])
    return sorted(addresses)
