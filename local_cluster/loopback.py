"""Keep every socket of the local cluster on 127.0.0.1.

Kafka, ZooKeeper and Pinot's controller, broker and server admin API take a
listen address in their configuration, and get 127.0.0.1. Pinot 0.11's server
query port (Netty) has no such setting and binds ``*:<port>``: a small shared
object preloaded into Pinot's JVMs (``native/loopback_bind.c``, built once
with the system C compiler) turns a wildcard bind into a loopback one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from .errors import StartError

__all__ = ["loopback_preload"]


def loopback_preload(cache: Path) -> Path:
    """The shared object to put in ``LD_PRELOAD``, compiled into ``cache`` on first use."""
    source = (resources.files(__package__) / "native" / "loopback_bind.c").read_bytes()
    built = cache.resolve() / f"loopback-bind-{hashlib.sha256(source).hexdigest()[:12]}.so"
    if built.exists():
        return built
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise StartError("a C compiler (cc) is needed to keep Pinot's query port on 127.0.0.1 "
                         "(Debian: apt-get install gcc)")
    built.parent.mkdir(parents=True, exist_ok=True)
    work = built.with_suffix(f".{os.getpid()}.tmp")
    work.with_suffix(".c").write_bytes(source)
    done = subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(work), str(work.with_suffix(".c")), "-ldl"],
                          capture_output=True, text=True, check=False)
    work.with_suffix(".c").unlink()
    if done.returncode != 0:
        raise StartError(f"compiling {built.name} failed:\n{done.stderr}")
    work.replace(built)
    return built
