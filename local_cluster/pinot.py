"""A single-node Apache Pinot on loopback: ZooKeeper in one JVM; controller, broker and server in a second.

Every port is chosen free and every host is 127.0.0.1 (Pinot otherwise probes
the network for its address). Each JVM gets a private ``java.io.tmpdir``:
Pinot's admin commands write PID files there, and its stop command kills every
PID it finds in them.
"""

from __future__ import annotations

import functools
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from local_cluster.artifacts import Runtime
from local_cluster.ports import HOST, free_ports
from local_cluster.process import JavaProcess, wait_until

__all__ = ["PinotNode", "start_pinot"]

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

    def stop(self) -> None:
        self.services.stop()
        self.zookeeper.stop()

    def peak_rss_mb(self) -> float | None:
        return self.services.peak_rss_mb()


@dataclass(frozen=True)
class _Ports:
    zookeeper: int
    controller: int
    broker: int
    server: int
    server_admin: int
    server_grpc: int
    query_server: int
    query_runner: int
    broker_query_runner: int

    @classmethod
    def free(cls) -> _Ports:
        return cls(*free_ports(9))


def _role_files(home: Path, ports: _Ports) -> list[Path]:
    zk = f"{HOST}:{ports.zookeeper}"
    common = {"pinot.zk.server": zk, "pinot.cluster.name": _CLUSTER}
    roles: dict[str, dict[str, Any]] = {
        "controller": {"pinot.service.role": "CONTROLLER", "controller.host": HOST,
                       "controller.port": ports.controller, "controller.vip.host": HOST,
                       "controller.data.dir": home / "controller", "controller.zk.str": zk,
                       "controller.helix.cluster.name": _CLUSTER, "cluster.tenant.isolation.enable": "true"},
        "broker": {"pinot.service.role": "BROKER", "pinot.broker.hostname": HOST,
                   "pinot.broker.client.queryPort": ports.broker, "pinot.query.runner.port": ports.broker_query_runner,
                   "pinot.broker.delayShutdownTimeMs": 0},  # 10 s by default: every stop would wait for it
        "server": {"pinot.service.role": "SERVER", "pinot.server.netty.host": HOST,
                   "pinot.server.netty.port": ports.server, "pinot.server.adminapi.port": ports.server_admin,
                   "pinot.server.grpc.port": ports.server_grpc, "pinot.query.server.port": ports.query_server,
                   "pinot.query.runner.port": ports.query_runner,
                   "pinot.server.instance.dataDir": home / "server" / "data",
                   "pinot.server.instance.segmentTarDir": home / "server" / "segments",
                   "pinot.server.shutdown.enableQueryCheck": "false"},
    }
    files = []
    for role, settings in roles.items():
        path = home / f"{role}.conf"
        path.write_text("".join(f"{k}={v}\n" for k, v in {**common, **settings}.items()))
        files.append(path)
    return files


def _jvm(name: str, runtime: Runtime, home: Path, heap_mb: int, command: list[str]) -> JavaProcess:
    tmp = home / "tmp" / name
    tmp.mkdir(parents=True, exist_ok=True)
    args = [f"-Xms{min(heap_mb, 256)}m", f"-Xmx{heap_mb}m", "-XX:+UseG1GC", "-Duser.timezone=UTC",
            f"-Djava.io.tmpdir={tmp}", "-Dpinot.admin.system.exit=true", "-cp", runtime.classpath, _ADMIN, *command]
    return JavaProcess(f"pinot {name}", args, home / "logs" / f"{name}.out", home,
                       env={"LOG_ROOT": str(home / "logs" / name)})


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


def _cluster_ready(controller_url: str, ports: _Ports) -> bool:
    """The broker and server have joined the cluster and a server carries the REALTIME tenant tag."""
    try:
        instances = httpx.get(f"{controller_url}/instances", timeout=2).json()["instances"]
        tags = httpx.get(f"{controller_url}/instances/Server_{HOST}_{ports.server}", timeout=2).json()["tags"]
    except (httpx.HTTPError, KeyError, ValueError):
        return False
    return f"Broker_{HOST}_{ports.broker}" in instances and "DefaultTenant_REALTIME" in tags


def _version(controller_url: str, fallback: str) -> str:
    versions = httpx.get(f"{controller_url}/version", timeout=5).json()
    return str(versions.get("pinot-controller", fallback)).split("-")[0]


def start_pinot(runtime: Runtime, home: Path, heap_mb: int = 1024) -> PinotNode:
    """Start ZooKeeper, then controller + broker + server; return once a REALTIME table could be created."""
    started = time.monotonic()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    ports = _Ports.free()
    zookeeper = _jvm("zookeeper", runtime, home, 128,
                     ["StartZookeeper", "-zkPort", str(ports.zookeeper), "-dataDir", str(home / "zookeeper")])
    started_processes = [zookeeper]
    try:
        wait_until(zookeeper, lambda: _zookeeper_answers(ports.zookeeper), _READY_DEADLINE_S, "serving")
        services = _jvm("services", runtime, home, heap_mb,
                        ["StartServiceManager", "-zkAddress", f"{HOST}:{ports.zookeeper}", "-clusterName", _CLUSTER,
                         "-port", "-1", "-bootstrapConfigPaths", *map(str, _role_files(home, ports))])
        started_processes.append(services)
        controller_url, broker_url = f"http://{HOST}:{ports.controller}", f"http://{HOST}:{ports.broker}"
        for url in (f"{controller_url}/health", f"{broker_url}/health",
                    f"http://{HOST}:{ports.server_admin}/health/readiness"):
            wait_until(services, functools.partial(_ok, url), _READY_DEADLINE_S, f"healthy at {url}")
        wait_until(services, lambda: _cluster_ready(controller_url, ports), _READY_DEADLINE_S, "joined")
        version = _version(controller_url, runtime.version)
    except BaseException:
        for process in reversed(started_processes):
            process.stop()
        raise
    return PinotNode(controller_url, broker_url, version, zookeeper, services, time.monotonic() - started)
