"""Pinot test fixtures: recording, fault-injecting proxies in front of the real broker and controller."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.fixtures.pinot import PinotEndpoints
from tests.pinot.proxy import PinotProxy


@dataclass(frozen=True)
class Proxied:
    """Endpoints whose broker and controller URLs are the proxies'; Kafka is reached directly."""

    endpoints: PinotEndpoints
    broker: PinotProxy
    controller: PinotProxy


@pytest.fixture(scope="session")
def pinot_proxies(pinot_endpoints: PinotEndpoints) -> Iterator[Proxied]:
    broker, controller = PinotProxy(pinot_endpoints.broker_url), PinotProxy(pinot_endpoints.controller_url)
    endpoints = dataclasses.replace(pinot_endpoints, broker_url=broker.url, controller_url=controller.url)
    yield Proxied(endpoints, broker, controller)
    broker.close()
    controller.close()


@pytest.fixture
def proxied(pinot_proxies: Proxied) -> Iterator[Proxied]:
    """The session's proxies, with this test's faults cleared when it ends."""
    yield pinot_proxies
    pinot_proxies.broker.clear()
    pinot_proxies.controller.clear()
