"""The backends the contract suite runs against.

Every implementation of :class:`feast_pinot.online.backend.OnlineBackend`
adds a parameter to ``backend_kind`` and a branch to ``make_backend``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from feast_pinot.online.backend import OnlineBackend
from feast_pinot.online.pinot.backend import PinotBackend
from feast_pinot.online.sqlite_backend import SqliteBackend


def make_backend(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> OnlineBackend:
    if kind == "embedded":
        return SqliteBackend(tmp_path / "online.db")
    if kind == "pinot":
        # The stand-in (or PINOT_* Pinot) with writes waited for: reads never see stale data.
        return PinotBackend(request.getfixturevalue("pinot_config_factory")())
    raise ValueError(f"unknown backend kind {kind!r}")


@pytest.fixture(params=["embedded", "pinot"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def backend(backend_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[OnlineBackend]:
    made = make_backend(backend_kind, tmp_path, request)
    yield made
    made.close()
