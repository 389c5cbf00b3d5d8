"""A local S3 server: S3Proxy (``org.gaul:s3proxy`` from Maven Central) over a temporary folder, on 127.0.0.1.

``local_s3()`` fetches S3Proxy like Pinot and Kafka (``maven/s3proxy.xml``),
starts it with the ``filesystem-nio2`` blob store in a fresh temporary folder
and made-up credentials, waits until a bucket listing succeeds, creates the
bucket, yields where it listens, then stops it and removes the folder.
``tests/fixtures/s3.py`` starts one per test session, for the tests that ask;
``python -m local_cluster --s3`` runs one next to Pinot and Kafka until Ctrl-C.

Clients of this server need two settings that real S3 does not (see
:meth:`S3Server.client_env`): S3Proxy 2.6.0 answers the AWS SDK's default
integrity checksums (on in the SDK pyarrow bundles) with
``400 XAmzContentSHA256Mismatch``, so they are asked for only when required.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.fs as pafs

from .artifacts import fetch
from .ports import HOST, free_ports
from .process import JavaProcess, wait_until

__all__ = ["S3PROXY_VERSION", "S3Server", "local_s3", "summary"]

S3PROXY_VERSION = "2.6.0"
REGION = "us-east-1"
_READY_DEADLINE_S = 120.0
# The AWS SDK's newer default checksums, which S3Proxy 2.6.0 refuses; real S3 takes them.
CHECKSUM_ENV = {"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
                "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"}


@dataclass(frozen=True)
class S3Server:
    """Where the server listens, its bucket and its (made-up) credentials."""

    endpoint: str
    """``host:port``, plain HTTP."""
    bucket: str
    access_key: str
    secret_key: str = field(repr=False)
    log: Path

    def client_env(self) -> dict[str, str]:
        """The environment a client of this server needs (pyarrow reads credentials and endpoint from it)."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_ENDPOINT_URL": f"http://{self.endpoint}", "AWS_DEFAULT_REGION": REGION, **CHECKSUM_ENV}

    def uri(self, key: str) -> str:
        """An ``s3://`` URI of ``key`` in the bucket, with the endpoint in its query (no credentials)."""
        return f"s3://{self.bucket}/{key}?endpoint_override={self.endpoint}&scheme=http&region={REGION}"

    def filesystem(self) -> pafs.S3FileSystem:
        """A pyarrow client of this server (checksum settings come from the environment: see ``client_env``)."""
        return _client(self.endpoint, self.access_key, self.secret_key)


def _client(endpoint: str, access_key: str, secret_key: str) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(access_key=access_key, secret_key=secret_key, endpoint_override=endpoint,
                             scheme="http", region=REGION, allow_bucket_creation=True, connect_timeout=2,
                             request_timeout=10, retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1))


def _properties(port: int, folder: Path, access_key: str, secret_key: str) -> str:
    return "\n".join([
        f"s3proxy.endpoint=http://{HOST}:{port}",
        "s3proxy.authorization=aws-v2-or-v4",
        f"s3proxy.identity={access_key}",
        f"s3proxy.credential={secret_key}",
        # filesystem-nio2 needs jclouds' own identity; both blob stores list folders as objects
        "jclouds.provider=filesystem-nio2",
        f"jclouds.filesystem.basedir={folder}",
        f"jclouds.identity={access_key}",
        f"jclouds.credential={secret_key}",
    ]) + "\n"


def _lists_buckets(client: pafs.S3FileSystem) -> bool:
    try:
        client.get_file_info(pafs.FileSelector("", allow_not_found=True))
        return True
    except OSError:  # not listening yet
        return False


@contextlib.contextmanager
def local_s3(cache: Path, bucket: str = "feast-pinot") -> Iterator[S3Server]:
    """A running S3Proxy with an empty ``bucket`` for the ``with`` block; stopped and its data removed afterwards."""
    runtime = fetch("s3proxy", S3PROXY_VERSION, cache)
    root = Path(tempfile.mkdtemp(prefix="feast-pinot-s3-"))
    (root / "blobs").mkdir()
    port = free_ports(1)[0]
    access_key, secret_key = f"local-{secrets.token_hex(4)}", secrets.token_hex(16)
    (root / "s3proxy.conf").write_text(_properties(port, root / "blobs", access_key, secret_key))
    process = JavaProcess("S3Proxy", ["-Xmx256m", "-cp", runtime.classpath, "org.gaul.s3proxy.Main",
                                      "--properties", str(root / "s3proxy.conf")], root / "s3proxy.log", root)
    try:
        server = S3Server(f"{HOST}:{port}", bucket, access_key, secret_key, process.log)
        client = server.filesystem()
        wait_until(process, lambda: _lists_buckets(client), _READY_DEADLINE_S, "listing buckets")
        client.create_dir(bucket)
        yield server
    finally:
        process.stop()
        shutil.rmtree(root, ignore_errors=True)


def summary(server: S3Server) -> list[str]:
    """What a user needs to point a log at the server."""
    return [f"s3: S3Proxy {S3PROXY_VERSION} on http://{server.endpoint}, bucket '{server.bucket}'; client environment "
            "(the checksum settings only for this server):",
            *(f"  export {key}={value}" for key, value in server.client_env().items()),
            f"  an action log path: s3://{server.bucket}/member_actions"]
