"""A Spark standalone cluster on loopback: one master and its workers, each a JVM of its own.

Started with the ``bin/spark-class`` launcher that the pip ``pyspark`` package
ships (no separate Spark download); ready when the master's status page
lists every worker alive. A session joins with
``master(cluster.master_url)``: its executors then run in the workers'
processes, so whatever a task needs is pickled and shipped to them.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from .errors import StartError
from .ports import HOST, free_ports
from .process import JavaProcess, wait_until

__all__ = ["SparkCluster", "spark_home", "start_spark"]

_READY_DEADLINE_S = 180.0


def spark_home() -> Path:
    """The pip package's own Spark (``bin/``, ``jars/``); pyspark is the ``[spark]`` extra."""
    try:
        import pyspark
    except ImportError as exc:
        raise StartError("the Spark cluster needs pyspark: pip install 'feast-pinot[spark]'") from exc
    return Path(pyspark.__file__).resolve().parent


class _SparkClass(JavaProcess):
    """A JVM started by ``bin/spark-class`` (which execs java: the process group is the JVM's)."""

    def __init__(self, name: str, home: Path, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.name, self.log = name, log
        with log.open("ab") as out:
            self._popen = subprocess.Popen([str(home / "bin" / "spark-class"), *args], cwd=log.parent, stdout=out,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           env={**os.environ, **env}, start_new_session=True)


@dataclass
class SparkCluster:
    master_url: str  # spark://127.0.0.1:<port>
    status_url: str  # the master's status page (JSON at /json/)
    processes: list[JavaProcess]
    started_s: float

    def alive_workers(self) -> int:
        try:
            return int(httpx.get(f"{self.status_url}/json/", timeout=5).json().get("aliveworkers", 0))
        except (httpx.HTTPError, ValueError):
            return 0

    def stop(self) -> None:
        """Workers first, then the master."""
        for process in reversed(self.processes):
            process.stop()


def start_spark(home: Path, workers: int = 2, cores: int = 1, memory: str = "1g") -> SparkCluster:
    """A master and ``workers`` workers (``cores`` and ``memory`` each) under ``home`` (logs, work dirs)."""
    spark = spark_home()
    home.mkdir(parents=True, exist_ok=True)
    env = {"SPARK_HOME": str(spark), "SPARK_LOCAL_IP": HOST, "SPARK_LOG_DIR": str(home),
           "SPARK_WORKER_DIR": str(home / "work")}
    started = time.monotonic()
    port, ui, *worker_ports = free_ports(2 + 2 * workers)
    master_url = f"spark://{HOST}:{port}"
    master = _SparkClass("spark master", spark, ["org.apache.spark.deploy.master.Master", "--host", HOST,
                                                 "--port", str(port), "--webui-port", str(ui)],
                         home / "master.log", env)
    cluster = SparkCluster(master_url, f"http://{HOST}:{ui}", [master], 0.0)
    try:
        for i in range(workers):
            worker_port, worker_ui = worker_ports[2 * i: 2 * i + 2]
            cluster.processes.append(_SparkClass(
                f"spark worker {i + 1}", spark,
                ["org.apache.spark.deploy.worker.Worker", "--host", HOST, "--port", str(worker_port),
                 "--webui-port", str(worker_ui), "--cores", str(cores), "--memory", memory, master_url],
                home / f"worker-{i + 1}.log", env))
        for process in cluster.processes:
            wait_until(process, lambda: cluster.alive_workers() >= workers, _READY_DEADLINE_S,
                       f"serving {workers} alive worker(s) at {cluster.status_url}")
    except BaseException:
        cluster.stop()
        raise
    cluster.started_s = time.monotonic() - started
    return cluster
