"""A single-node Apache Pinot on loopback: ZooKeeper in one JVM; controller, broker and server in a second.

Every port is chosen free and every listener is on 127.0.0.1: ZooKeeper's
``clientPortAddress``, the HTTP listeners' ``access.protocols.http.host``, the
server's gRPC port switched off, and the one socket Pinot 0.11 cannot be told
where to bind (the server's Netty query port) kept there by a preloaded shim
(:mod:`local_cluster.loopback`). Each JVM gets a private ``java.io.tmpdir``:
Pinot's admin commands write PID files there, and its stop command kills every
PID it finds in them.

With :class:`~local_cluster.security.Credentials` the controller and broker
demand HTTP Basic credentials (``security.PINOT_USERS``); the server uses the
``admin`` token for its own calls to the controller.
"""

from __future__ import annotations

import dataclasses
import functools
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .artifacts import Runtime
from .ports import HOST, free_ports
from .process import JavaProcess, wait_until
from .security import PINOT_USERS, Credentials

__all__ = ["PINOT_PORTS", "PinotNode", "pinot_ports", "start_pinot"]

_READY_DEADLINE_S = 240.0
_ADMIN = "org.apache.pinot.tools.admin.PinotAdministrator"
_CLUSTER = "FeastPinotLocal"


@dataclass
class PinotNode:
    controller_url: str
    broker_url: str
    version: str
    zookeeper: JavaProcess
    services: JavaProcess
    started_s: float
    credentials: Credentials | None = None

    def stop(self) -> None:
        self.services.stop()
        self.zookeeper.stop()

    def peak_rss_mb(self) -> float | None:
        return self.services.peak_rss_mb()


PINOT_PORTS = 8  # ZooKeeper, controller, broker, server (admin, query, two query runners)


@dataclass(frozen=True)
class _Ports:
    zookeeper: int
    controller: int
    broker: int
    server: int
    server_admin: int
    query_server: int
    query_runner: int
    broker_query_runner: int

    @classmethod
    def free(cls) -> _Ports:
        return cls(*free_ports(PINOT_PORTS))

    @classmethod
    def at(cls, base: int) -> _Ports:
        """The controller on ``base``, the broker on ``base + 1`` (what a feature_store.yaml names), then the rest."""
        return cls(base + 2, base, base + 1, *range(base + 3, base + PINOT_PORTS))


def pinot_ports(base: int) -> dict[str, int]:
    """What ``start_pinot(port_base=base)`` listens on, by role."""
    return {f"pinot {name.replace('_', ' ')}": port for name, port in dataclasses.asdict(_Ports.at(base)).items()}


def _listener(prefix: str, port: int) -> dict[str, Any]:
    """An HTTP listener on loopback (``<prefix>.port`` alone would bind every interface)."""
    return {f"{prefix}.access.protocols": "http", f"{prefix}.access.protocols.http.host": HOST,
            f"{prefix}.access.protocols.http.port": port}


def _access(prefix: str, credentials: Credentials) -> dict[str, Any]:
    settings: dict[str, Any] = {f"{prefix}.principals": ",".join(PINOT_USERS)}
    for user, permissions in PINOT_USERS.items():
        settings[f"{prefix}.principals.{user}.password"] = credentials.pinot[user]
        if permissions:
            settings[f"{prefix}.principals.{user}.permissions"] = permissions
    return settings


def _secured(credentials: Credentials) -> dict[str, dict[str, Any]]:
    token = credentials.pinot_token("admin")
    return {
        "controller": {"controller.admin.access.control.factory.class":
                       "org.apache.pinot.controller.api.access.BasicAuthAccessControlFactory",
                       **_access("controller.admin.access.control", credentials),
                       "controller.segment.fetcher.auth.token": token},
        "broker": {"pinot.broker.access.control.class": "org.apache.pinot.broker.broker.BasicAuthAccessControlFactory",
                   **_access("pinot.broker.access.control", credentials)},
        "server": {"pinot.server.segment.fetcher.auth.token": token, "pinot.server.segment.uploader.auth.token": token,
                   "pinot.server.instance.auth.token": token},
    }


def _role_files(home: Path, ports: _Ports, credentials: Credentials | None) -> list[Path]:
    zk = f"{HOST}:{ports.zookeeper}"
    common = {"pinot.zk.server": zk, "pinot.cluster.name": _CLUSTER}
    roles: dict[str, dict[str, Any]] = {
        "controller": {"pinot.service.role": "CONTROLLER", "controller.host": HOST,
                       **_listener("controller", ports.controller), "controller.vip.host": HOST,
                       "controller.vip.port": ports.controller,
                       "controller.data.dir": home / "controller", "controller.zk.str": zk,
                       "controller.helix.cluster.name": _CLUSTER, "cluster.tenant.isolation.enable": "true"},
        "broker": {"pinot.service.role": "BROKER", "pinot.broker.hostname": HOST,
                   **_listener("pinot.broker.client", ports.broker),
                   "pinot.query.runner.port": ports.broker_query_runner,
                   "pinot.broker.delayShutdownTimeMs": 0},  # 10 s by default: every stop would wait for it
        "server": {"pinot.service.role": "SERVER", "pinot.server.netty.host": HOST,
                   "pinot.server.netty.port": ports.server, **_listener("pinot.server.adminapi", ports.server_admin),
                   "pinot.server.grpc.enable": "false",  # not used by the store; it would bind every interface
                   "pinot.query.server.port": ports.query_server, "pinot.query.runner.port": ports.query_runner,
                   "pinot.server.instance.dataDir": home / "server" / "data",
                   "pinot.server.instance.segmentTarDir": home / "server" / "segments",
                   "pinot.server.shutdown.enableQueryCheck": "false"},
    }
    extra = _secured(credentials) if credentials is not None else {}
    files = []
    for role, settings in roles.items():
        path = home / f"{role}.conf"
        path.touch(mode=0o600)  # it holds the passwords when secured
        path.write_text("".join(f"{k}={v}\n" for k, v in {**common, **settings, **extra.get(role, {})}.items()))
        files.append(path)
    return files


def _jvm(name: str, runtime: Runtime, home: Path, heap_mb: int, command: list[str], preload: Path) -> JavaProcess:
    tmp = home / "tmp" / name
    tmp.mkdir(parents=True, exist_ok=True)
    args = [f"-Xms{min(heap_mb, 256)}m", f"-Xmx{heap_mb}m", "-XX:+UseG1GC", "-Duser.timezone=UTC",
            f"-Djava.io.tmpdir={tmp}", "-Dpinot.admin.system.exit=true", "-cp", runtime.classpath, *command]
    return JavaProcess(f"pinot {name}", args, home / "logs" / f"{name}.out", home,
                       env={"LOG_ROOT": str(home / "logs" / name), "LD_PRELOAD": str(preload)})


def _zookeeper(runtime: Runtime, home: Path, port: int, preload: Path) -> JavaProcess:
    """ZooKeeper itself, not Pinot's ``StartZookeeper`` (which listens on every interface)."""
    config = home / "zoo.cfg"
    config.write_text(f"dataDir={home / 'zookeeper'}\nclientPort={port}\nclientPortAddress={HOST}\n"
                      "admin.enableServer=false\ntickTime=2000\nmaxClientCnxns=0\n")
    return _jvm("zookeeper", runtime, home, 128, ["org.apache.zookeeper.server.ZooKeeperServerMain", str(config)],
                preload)


def _headers(credentials: Credentials | None) -> dict[str, str]:
    return {"Authorization": credentials.pinot_token("admin")} if credentials is not None else {}


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).text.strip() == "OK"
    except httpx.HTTPError:
        return False


def _zookeeper_answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b"srvr")  # the one four-letter command ZooKeeper 3.5+ allows by default
            return sock.recv(64).startswith(b"Zookeeper version")
    except OSError:
        return False


def _cluster_ready(controller_url: str, ports: _Ports, headers: dict[str, str]) -> bool:
    """The broker and server have joined the cluster and a server carries the REALTIME tenant tag."""
    try:
        instances = httpx.get(f"{controller_url}/instances", headers=headers, timeout=2).json()["instances"]
        tags = httpx.get(f"{controller_url}/instances/Server_{HOST}_{ports.server}", headers=headers,
                         timeout=2).json()["tags"]
    except (httpx.HTTPError, KeyError, ValueError):
        return False
    return f"Broker_{HOST}_{ports.broker}" in instances and "DefaultTenant_REALTIME" in tags


def _version(controller_url: str, fallback: str, headers: dict[str, str]) -> str:
    versions = httpx.get(f"{controller_url}/version", headers=headers, timeout=5).json()
    return str(versions.get("pinot-controller", fallback)).split("-")[0]


def start_pinot(runtime: Runtime, home: Path, preload: Path, heap_mb: int = 1024,
                credentials: Credentials | None = None, port_base: int | None = None) -> PinotNode:
    """Start ZooKeeper, then controller + broker + server; return once a REALTIME table could be created.

    ``preload`` is :func:`~local_cluster.loopback.loopback_preload`'s shared object. ``port_base``:
    the controller on it, the broker on the next, the rest after them (default: free ports).
    """
    started = time.monotonic()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    ports, headers = _Ports.free() if port_base is None else _Ports.at(port_base), _headers(credentials)
    zookeeper = _zookeeper(runtime, home, ports.zookeeper, preload)
    started_processes = [zookeeper]
    try:
        wait_until(zookeeper, lambda: _zookeeper_answers(ports.zookeeper), _READY_DEADLINE_S, "serving")
        services = _jvm("services", runtime, home, heap_mb,
                        [_ADMIN, "StartServiceManager", "-zkAddress", f"{HOST}:{ports.zookeeper}",
                         "-clusterName", _CLUSTER, "-port", "-1",
                         "-bootstrapConfigPaths", *map(str, _role_files(home, ports, credentials))], preload)
        started_processes.append(services)
        controller_url, broker_url = f"http://{HOST}:{ports.controller}", f"http://{HOST}:{ports.broker}"
        for url in (f"{controller_url}/health", f"{broker_url}/health",
                    f"http://{HOST}:{ports.server_admin}/health/readiness"):
            wait_until(services, functools.partial(_ok, url), _READY_DEADLINE_S, f"healthy at {url}")
        wait_until(services, lambda: _cluster_ready(controller_url, ports, headers), _READY_DEADLINE_S, "joined")
        version = _version(controller_url, runtime.version, headers)
    except BaseException:
        for process in reversed(started_processes):
            process.stop()
        raise
    return PinotNode(controller_url, broker_url, version, zookeeper, services, time.monotonic() - started,
                     credentials)
