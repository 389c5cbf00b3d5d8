"""A wire-level stand-in for Apache Pinot, for tests only (never a product backend).

It speaks Pinot's controller and broker HTTP APIs, ingests REALTIME tables from
the Kafka topic of each table config with the JSON decoder, and reproduces the
behaviours a client can observe (reference ``pinot.md`` §0 and §9): default
``LIMIT 10``, errors as ``exceptions`` in an HTTP 200, no ``resultTable`` when
the broker answers alone, upsert, dedup, lazy retention by segment, reserved
words, null defaults. SQL it does not implement is refused with an error that
says so, never answered approximately.
"""

from tests.pinot_standin.broker import Fault
from tests.pinot_standin.controller import ControllerTiming
from tests.pinot_standin.server import PinotStandIn

__all__ = ["PinotStandIn", "ControllerTiming", "Fault"]
