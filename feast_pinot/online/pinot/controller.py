"""Idempotent schema and table management through Pinot's controller REST API, Pinot 0.11 to 1.5.

``ensure_*`` compare what the controller holds with what is wanted and only
write when they differ, so a second ``feast apply`` sends no write at all.
Pinot fills in defaults and keeps the table name with its type suffix, so
"the same" means: every key we set has our value. A table that differs is
sent back as the controller's config with our keys merged in, so settings an
operator added (and 1.5's frozen upsert keys) stay as they are.

Versions differ in a few answers (``docs/pinot.md``): a missing table is
``200 {}`` up to 1.3 and 404 from 1.4; ``GET /version`` names its jars
differently per distribution, or answers ``{}``.
"""

from __future__ import annotations

import copy
import logging
import re
import time
from typing import Any, Literal

from feast_pinot.online.pinot.errors import PinotAuthError, PinotConnectionError, PinotSchemaError
from feast_pinot.online.pinot.layout import PinotVersion
from feast_pinot.online.pinot.settings import PinotOnlineStoreConfig

__all__ = ["ControllerClient", "contains", "merged", "pinot_version"]

log = logging.getLogger(__name__)

Outcome = Literal["created", "updated", "unchanged", "deleted", "absent"]
# Table creation makes the controller talk to ZooKeeper and Kafka: allow more than a read.
_MIN_CONTROLLER_TIMEOUT_S = 30.0


def contains(actual: Any, wanted: Any) -> bool:
    """Whether ``actual`` holds every key of ``wanted`` with an equal value (lists: item by item)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(actual, list) and len(actual) == len(wanted) and all(map(contains, actual, wanted))
    return bool(actual == wanted)


def merged(current: Any, wanted: Any) -> Any:
    """``current`` with every key of ``wanted`` set to its value (dicts merged, lists of dicts item by item)."""
    if isinstance(current, dict) and isinstance(wanted, dict):
        return {**current, **{k: merged(current.get(k), v) for k, v in wanted.items()}}
    if isinstance(current, list) and isinstance(wanted, list) and len(current) == len(wanted):
        return [merged(c, w) for c, w in zip(current, wanted)]
    return copy.deepcopy(wanted)


def pinot_version(answer: Any) -> PinotVersion | None:
    """The release a ``GET /version`` answer names, or None when it names none.

    Keys differ by packaging (``pinot-controller`` on a Maven classpath,
    ``pinot-distribution`` in the binary release); values look like
    ``1.5.1-<build>`` or ``0.11.0``.
    """
    found = set()
    for key, value in (answer.items() if isinstance(answer, dict) else ()):
        match = re.match(r"(\d+)\.(\d+)\.(\d+)", str(value)) if str(key).startswith("pinot") else None
        if match:
            found.add((int(match[1]), int(match[2]), int(match[3])))
    return max(found) if found else None


class ControllerClient:
    def __init__(self, config: PinotOnlineStoreConfig) -> None:
        import httpx  # lazy: pinotdb's HTTP client, only needed with Pinot

        self._http = httpx.Client(
            base_url=config.controller_url, auth=config.auth,
            timeout=max(config.http_timeout_s, _MIN_CONTROLLER_TIMEOUT_S),
        )
        self._config = config
        self._retry_s = config.ingestion_timeout_s
        self._version: tuple[PinotVersion | None] | None = None

    def _call(self, method: str, path: str, body: Any = None, missing_ok: bool = False) -> Any:
        import httpx

        try:
            response = self._http.request(method, path, json=body)
        except httpx.TransportError as exc:
            raise PinotConnectionError(f"cannot reach the Pinot controller ({method} {path}): {exc!r}") from exc
        if missing_ok and response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise PinotAuthError.http("controller", self._config.username, f"HTTP {response.status_code}",
                                      f"{method} {path}")
        if response.status_code != 200:
            # Pinot quotes the config it refused, stream credentials included: masked.
            raise PinotSchemaError(self._config.redact(
                f"Pinot controller {method} {path} answered {response.status_code}: {_error_text(response)}"))
        payload = response.json()
        unknown = payload.get("unrecognizedProperties") if isinstance(payload, dict) else None
        if unknown:
            log.warning("%s", self._config.redact(f"Pinot ignored unknown properties in {method} {path}: {unknown}"))
        return payload

    def version(self) -> PinotVersion | None:
        """The controller's release (asked once), or None when ``/version`` does not say."""
        if self._version is None:
            self._version = (pinot_version(self._call("GET", "/version", missing_ok=True)),)
        return self._version[0]

    def schema(self, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._call("GET", f"/schemas/{name}", missing_ok=True)
        return found

    def ensure_schema(self, schema: dict[str, Any]) -> Outcome:
        name = schema["schemaName"]
        current = self._call("GET", f"/schemas/{name}", missing_ok=True)
        if current is not None and contains(current, schema):
            return "unchanged"
        self._call("POST", "/schemas", schema)  # override=true: creates or updates (compatible changes only)
        return "created" if current is None else "updated"

    def ensure_table(self, config: dict[str, Any]) -> Outcome:
        name = config["tableName"]
        # Up to Pinot 1.3 a missing table is 200 {}; from 1.4 it is 404.
        current = (self._call("GET", f"/tables/{name}?type=realtime", missing_ok=True) or {}).get("REALTIME")
        if current is None:
            self._create_table(config)
            return "created"
        current = {**current, "tableName": name}  # Pinot stores "<name>_REALTIME"
        if contains(current, config):
            return "unchanged"
        self._call("PUT", f"/tables/{name}", merged(current, config))
        return "updated"

    def _create_table(self, config: dict[str, Any]) -> None:
        # Pinot deletes a table asynchronously: right after a delete it answers 409, "Table config
        # for ... already exists" (seen on 0.11) or "External view for ... still exists", for a while.
        deadline = time.monotonic() + self._retry_s
        while True:
            try:
                self._call("POST", "/tables", config)
                return
            except PinotSchemaError as exc:
                if " answered 409: " not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def delete_table(self, name: str) -> Outcome:
        found = self._call("DELETE", f"/tables/{name}?type=realtime", missing_ok=True)
        return "absent" if found is None else "deleted"

    def wait_table_gone(self, name: str) -> None:
        """Return once no server serves the deleted table any more (its external view is gone).

        Pinot 0.11 keeps it for seconds (10 s seen on a busy machine) after ``DELETE`` answered.
        """
        deadline = time.monotonic() + self._retry_s
        while self._call("GET", f"/tables/{name}/externalview", missing_ok=True) is not None:
            if time.monotonic() > deadline:
                raise PinotSchemaError(f"table '{name}' was deleted but Pinot's servers still serve it "
                                       f"after {self._retry_s} s")
            time.sleep(0.2)

    def delete_schema(self, name: str) -> Outcome:
        found = self._call("DELETE", f"/schemas/{name}", missing_ok=True)
        return "absent" if found is None else "deleted"

    def close(self) -> None:
        self._http.close()


def _error_text(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return str(response.text)
    return str(body.get("error", body) if isinstance(body, dict) else body)
