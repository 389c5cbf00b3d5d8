"""Copies of ``feature_repo/`` pointed at another online store."""

from __future__ import annotations

from pathlib import Path

__all__ = ["use_online_store"]


def use_online_store(repo: Path, block: str) -> None:
    """Replace the ``online_store`` block of the repo's ``feature_store.yaml`` with ``block``."""
    config = repo / "feature_store.yaml"
    lines = config.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("online_store:"))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith((" ", "\t"))), len(lines))
    config.write_text("".join(lines[:start]) + block + "".join(lines[end:]))
