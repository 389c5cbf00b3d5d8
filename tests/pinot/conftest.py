"""Pinot test fixtures: recording, fault-injecting proxies in front of the real broker and controller."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from confluent_kafka.admin import AdminClient

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


def named_with(endpoints: PinotEndpoints, prefix: str) -> tuple[list[str], list[str], list[str]]:
    """The tables, schemas and Kafka topics whose names start with ``prefix``, sorted."""
    with httpx.Client(base_url=endpoints.controller_url, timeout=30) as http:
        tables = [t for t in http.get("/tables").json()["tables"] if t.startswith(prefix)]
        schemas = [s for s in http.get("/schemas").json() if s.startswith(prefix)]
    listed = AdminClient({"bootstrap.servers": endpoints.kafka_bootstrap}).list_topics(timeout=10).topics
    return sorted(tables), sorted(schemas), sorted(t for t in listed if t.startswith(prefix))
