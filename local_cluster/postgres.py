"""A throwaway PostgreSQL server from Debian's packages, on 127.0.0.1, for the offline-store tests.

``local_postgres()`` runs ``initdb`` into a fresh temporary folder (trust
authentication, superuser ``feast``), starts the server with ``pg_ctl`` on a
free loopback port with no Unix socket, yields where it listens, then stops it
and removes the folder. ``tests/fixtures/postgres.py`` starts one per test
session; ``scripts/_postgres.sh`` installs Debian's ``postgresql`` when its
binaries are missing.

PostgreSQL refuses to run as root: as root (CI), the server runs as the
``postgres`` user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import StartError
from .ports import HOST, free_ports

__all__ = ["PostgresServer", "local_postgres", "postgres_binaries"]

USER = "feast"
DATABASE = "postgres"
_SERVER_ACCOUNT = "postgres"  # Debian's package makes it
_WAIT_S = 600  # pg_ctl's own wait: generous, a loaded machine starts slowly, a ready server answers at once


@dataclass(frozen=True)
class PostgresServer:
    """Where the server listens (trust authentication: any password)."""

    host: str
    port: int
    user: str
    database: str
    log: Path


def postgres_binaries() -> Path:
    """The folder with ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest ``/usr/lib/postgresql/N/bin``."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not versions:
        raise StartError("PostgreSQL's server programs (initdb, pg_ctl) are not installed: "
                         "apt-get install postgresql (scripts/_postgres.sh does it)")
    return versions[-1].parent


def _account() -> tuple[int, int] | None:
    """The (uid, gid) to run the server as: ``postgres`` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(_SERVER_ACCOUNT)
    except KeyError as exc:
        raise StartError(f"running as root and there is no '{_SERVER_ACCOUNT}' user to run PostgreSQL as "
                         f"(Debian's postgresql package creates it)") from exc
    return entry.pw_uid, entry.pw_gid


def _run(args: list[str], account: tuple[int, int] | None, cwd: Path, log: Path) -> None:
    user = {} if account is None else {"user": account[0], "group": account[1], "extra_groups": []}
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          check=False, **user)  # type: ignore[call-overload]
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no server log)"
        raise StartError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}\n"
                         f"server log {log}:\n{tail}")


@contextlib.contextmanager
def local_postgres() -> Iterator[PostgresServer]:
    """A running server for the ``with`` block; stopped and its data removed afterwards."""
    binaries = postgres_binaries()
    account = _account()
    root = Path(tempfile.mkdtemp(prefix="feast-pinot-postgres-"))
    data, log = root / "data", root / "server.log"
    try:
        if account is not None:
            os.chown(root, *account)
        _run([str(binaries / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "--encoding=UTF8",
              "--locale=C", "--no-sync"], account, root, log)
        port = free_ports(1)[0]
        # -k '': no Unix socket (only TCP on loopback); -F: no fsync, the data is thrown away
        options = f"-h {HOST} -p {port} -k '' -F"
        pg_ctl = str(binaries / "pg_ctl")
        _run([pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", str(_WAIT_S), "start"],
             account, root, log)
        try:
            yield PostgresServer(HOST, port, USER, DATABASE, log)
        finally:
            _run([pg_ctl, "-D", str(data), "-m", "fast", "-w", "-t", str(_WAIT_S), "stop"], account, root, log)
    finally:
        shutil.rmtree(root, ignore_errors=True)
