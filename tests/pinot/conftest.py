"""Pinot test fixtures: stand-ins of their own with Pinot's asynchronous steps slowed down."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.pinot_standin import ControllerTiming, PinotStandIn


@pytest.fixture
def timed_standin(kafka_bootstrap: str) -> Iterator[Callable[[ControllerTiming], PinotStandIn]]:
    """``start(timing)``: a stand-in of its own with Pinot's asynchronous steps slowed down."""
    started: list[PinotStandIn] = []

    def start(timing: ControllerTiming) -> PinotStandIn:
        started.append(PinotStandIn(timing).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()
