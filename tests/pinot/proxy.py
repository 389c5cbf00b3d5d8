"""An HTTP proxy in front of a real Pinot broker or controller: records what passes, injects faults.

Real Pinot cannot be told to fail on cue; this proxy forwards every request to
it unchanged and, when a test asks, delays an answer, cuts the connection,
replaces the body or edits the JSON Pinot sent. Faults match a regular
expression searched in the request line and body (holding a test's own table
name), so concurrent tests never see each other's faults.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

__all__ = ["PinotProxy", "Request"]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: Any  # the JSON body, or None


@dataclass
class _Fault:
    match: str
    times: int | None  # None: every matching request
    delay_s: float
    cut: bool
    body: bytes | None
    edit: Callable[[dict[str, Any]], dict[str, Any]] | None
    status: int | None


class PinotProxy:
    def __init__(self, target: str) -> None:
        self._upstream = httpx.Client(base_url=target, timeout=60)
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self.requests: list[Request] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def inject(self, match: str, *, times: int | None = 1, delay_s: float = 0.0, cut: bool = False,
               body: bytes | None = None, status: int | None = None,
               edit: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        """Alter the answers to the next ``times`` requests whose ``METHOD path body`` matches ``match``.

        ``cut`` closes the connection unanswered; ``body`` (with ``status``, default 200) answers
        without forwarding; ``edit`` rewrites the JSON Pinot answered; ``delay_s`` comes first.
        """
        with self._lock:
            self._faults.append(_Fault(match, times, delay_s, cut, body, edit, status))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def since(self, start: int, contains: str = "") -> list[Request]:
        return [r for r in self.requests[start:] if contains in r.path + json.dumps(r.body)]

    def _take(self, text: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if re.search(fault.match, text):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._upstream.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as pinotdb and httpx use it

            def log_message(self, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw) if raw else None
                proxy.requests.append(Request(self.command, self.path, body))
                fault = proxy._take(f"{self.command} {self.path} {raw.decode(errors='replace')}")
                if fault is not None and fault.cut:
                    self.close_connection = True
                    return
                if fault is not None:
                    time.sleep(fault.delay_s)
                if fault is not None and fault.body is not None:  # answered here: Pinot never sees it
                    self._answer(fault.status or 200, fault.body)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization")}
                answer = proxy._upstream.request(self.command, self.path, content=raw, headers=headers)
                content = answer.content
                if fault is not None and fault.edit is not None:
                    content = json.dumps(fault.edit(answer.json())).encode()
                self._answer(answer.status_code, content)

            def _answer(self, status: int, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = _relay

        return Handler
