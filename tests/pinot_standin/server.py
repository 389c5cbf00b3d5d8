"""HTTP wiring: a controller port and a broker port over one shared state.

Everything under ``/__standin__/`` is the test double's own control surface
(fault injection, the log of received queries, ingestion stats); the rest is
Pinot's API.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.pinot_standin.broker import Broker, Fault, dumps
from tests.pinot_standin.controller import Controller, ControllerTiming
from tests.pinot_standin.model import ControllerError
from tests.pinot_standin.storage import Storage

__all__ = ["PinotStandIn", "Reply"]


@dataclass
class Reply:
    status: int
    body: Any  # dict/list -> JSON, str -> text/plain
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain"
        return dumps(self.body), "application/json"


Route = Callable[[str, list[str], dict[str, str], Any], Reply]


def _handler(route: Route) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real servers (and httpx pools) expect
        disable_nagle_algorithm = True  # headers and body are two writes: Nagle would add ~40 ms

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            segments = [unquote(s) for s in parts.path.split("/") if s]
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                reply = route(self.command, segments, query, raw)
            except ControllerError as exc:
                reply = Reply(exc.status, {"code": exc.status, "error": exc.message})
            body, content_type = reply.encoded()
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass  # quiet: tests read the query log instead

    return Handler


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise ControllerError(400, "Invalid JSON in the request body") from None


class PinotStandIn:
    """A wire-level Pinot for tests: controller and broker on two local ports."""

    def __init__(self, timing: ControllerTiming = ControllerTiming(),
                 clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        self.storage = Storage()
        self.controller = Controller(self.storage, timing, clock_ms)
        self._servers = [
            ThreadingHTTPServer(("127.0.0.1", 0), _handler(self._controller_route)),
            ThreadingHTTPServer(("127.0.0.1", 0), _handler(self._broker_route)),
        ]
        for server in self._servers:
            server.daemon_threads = True
        self.broker = Broker(self.storage, f"Broker_127.0.0.1_{self._servers[1].server_port}")
        self._threads: list[threading.Thread] = []
        self.controller_requests: list[str] = []  # "METHOD /path" of every controller call, for tests

    @property
    def controller_url(self) -> str:
        return f"http://127.0.0.1:{self._servers[0].server_port}"

    @property
    def broker_url(self) -> str:
        return f"http://127.0.0.1:{self._servers[1].server_port}"

    def start(self) -> "PinotStandIn":
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, daemon=True, name="pinot-standin-http")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self.controller.stop()
        self.storage.close()

    # -- routes -------------------------------------------------------------------

    def _controller_route(self, method: str, path: list[str], query: dict[str, str], raw: bytes) -> Reply:
        c = self.controller
        self.controller_requests.append(f"{method} /{'/'.join(path)}")
        match method, path:
            case "GET", ["health"]:
                return Reply(200, "OK")
            case "POST", ["schemas"]:
                override = query.get("override", "true").lower() != "false"
                return Reply(200, c.add_schema(_json(raw), override, query.get("force", "false").lower() == "true"))
            case "GET", ["schemas"]:
                return Reply(200, c.list_schemas())
            case "GET", ["schemas", name]:
                return Reply(200, c.get_schema(name))
            case "DELETE", ["schemas", name]:
                return Reply(200, c.delete_schema(name))
            case "POST", ["tables"]:
                return Reply(200, c.add_table(_json(raw)))
            case "GET", ["tables"]:
                return Reply(200, c.list_tables())
            case "GET", ["tables", name]:
                return Reply(200, c.get_table(name, query.get("type", "").lower() or None))
            case "GET", ["tables", name, "schema"]:
                return Reply(200, c.table_schema(name))
            case "PUT", ["tables", name]:
                return Reply(200, c.update_table(name, _json(raw)))
            case "DELETE", ["tables", name]:
                return Reply(200, c.delete_table(name, query.get("type")))
            case "GET", ["periodictask", "run"]:
                return Reply(200, c.run_periodic_task(query.get("taskname", ""), query.get("tableName")))
            case "GET", ["__standin__", "tables", name]:
                return Reply(200, c.stats(name))
        raise ControllerError(404, f"HTTP 404 Not Found: {method} /{'/'.join(path)}")

    def _broker_route(self, method: str, path: list[str], query: dict[str, str], raw: bytes) -> Reply:
        match method, path:
            case "GET", ["health"]:
                return Reply(200, "OK")
            case "POST", ["query", "sql"]:
                return self._query(raw)
            case "GET", ["query", "sql"]:
                return self._query(json.dumps({"sql": query.get("sql", "")}).encode())
            case "POST", ["__standin__", "faults"]:
                self.broker.add_fault(Fault(**_json(raw)))
                return Reply(200, {"status": "fault added"})
            case "GET", ["__standin__", "queries"]:
                return Reply(200, self.broker.queries)
            case "DELETE", ["__standin__", "queries"]:
                self.broker.queries.clear()
                return Reply(200, {"status": "cleared"})
        return Reply(404, f"HTTP 404 Not Found: {method} /{'/'.join(path)}")

    def _query(self, raw: bytes) -> Reply:
        try:
            body = json.loads(raw)
        except ValueError as exc:
            return Reply(500, f"Unable to parse the request body: {exc}")  # plain text, as Pinot's generic handler
        if not isinstance(body, dict) or "sql" not in body:
            return Reply(500, "Payload is missing the query string field 'sql'")
        response = self.broker.handle(body)
        code = response["exceptions"][0]["errorCode"] if response["exceptions"] else -1
        return Reply(200, response, {"X-Pinot-Error-Code": str(code)})
