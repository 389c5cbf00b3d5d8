"""Where an action log lives: a local folder or any filesystem URI pyarrow supports.

A log root is a local path (the default, relative to the feature repo) or a
URI: ``file://``, ``s3://bucket/prefix``, ``gs://``, ``hdfs://``. Everything
that writes or reads a log goes through :class:`LogStore`, one
``pyarrow.fs.FileSystem`` and the root's path inside it.

Object stores have no rename, so nothing here renames there:

* an object is written whole (:meth:`LogStore.write_whole`): the bytes are
  made in memory, then uploaded at once, and an upload becomes visible only
  when it completes (a single PUT, or a multipart upload completed on close);
  on a local disk a temporary file is renamed into place, as before;
* listings are filtered (files only, so the directory markers some S3 servers
  list are ignored) and sorted by name, never taken in the store's order.

Credentials never belong in the URI (it is written in the repo and shows in
messages): pyarrow takes them from the usual places (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, an instance role, ...). Other
settings can ride in the URI's query as pyarrow reads them
(``s3://bucket/log?endpoint_override=host:9000&scheme=http&region=eu-west-1``);
``AWS_ENDPOINT_URL`` works too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

from feast_pinot.errors import OfflineStoreError

__all__ = ["SECRET_OPTIONS", "LogStore", "check_log_uri", "open_log", "uri_problem"]

# URI query options that would put a secret in the repo's declarations
SECRET_OPTIONS = ("access_key", "secret_key", "session_token", "access_token")


def uri_problem(root: str) -> str | None:
    """What is wrong with a log root given as a URI (a credential in it), or None; a local path has none.

    The declaration of a log calls it (``ActionLogSpec``), so a secret is refused before it reaches the registry.
    """
    if "://" not in root:
        return None
    parts = urlsplit(root)
    given = sorted(set(parse_qs(parts.query)) & set(SECRET_OPTIONS))
    if not given and parts.password is None and parts.username is None:
        return None
    what = ", ".join(given) or "a user name or password"
    return (f"the action log URI {_shown(root)} carries {what}: give credentials through the environment "
            f"(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE) or an instance role, not in the repo")


def check_log_uri(root: str) -> None:
    """Refuse a log URI that carries a credential (:class:`OfflineStoreError`)."""
    problem = uri_problem(root)
    if problem is not None:
        raise OfflineStoreError(problem)


def _shown(root: str) -> str:
    """The URI without its query and user info (what a message may show)."""
    parts = urlsplit(root)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}" if "://" in root else root


@dataclass(frozen=True)
class LogStore:
    """A log root: its filesystem, the root's path inside it, and whether that is the local disk."""

    fs: pafs.FileSystem = field(repr=False)
    root: str
    local: bool
    shown: str
    """The root as messages show it (no query, no user info)."""

    def path(self, *names: str) -> str:
        """A path under the root (local paths joined as ``os.path.join`` does, as before)."""
        return os.path.join(self.root, *names) if self.local else "/".join([self.root.rstrip("/"), *names])

    def files(self, under: str, suffix: str) -> list[pafs.FileInfo]:
        """The files below ``under`` (recursively) whose name ends in ``suffix``, sorted by path."""
        try:
            found = self.fs.get_file_info(pafs.FileSelector(under, allow_not_found=True, recursive=True))
        except OSError as exc:
            raise OfflineStoreError(f"listing {self.shown}: {exc}") from exc
        # directory markers (a "folder" listed as an object) are not files of ours, whatever their type
        return sorted((info for info in found if info.type == pafs.FileType.File and info.path.endswith(suffix)),
                      key=lambda info: info.path)

    def write_whole(self, path: str, data: pa.Buffer | bytes) -> None:
        """Write ``data`` as the object ``path``: a reader sees all of it or nothing (raises ``OSError``)."""
        if not self.local:  # an upload is visible once complete: no temporary name to clean up
            with self.fs.open_output_stream(path) as out:
                out.write(data)
            return
        folder, name = os.path.split(path)
        os.makedirs(folder, exist_ok=True)
        temp = os.path.join(folder, f".{name}.tmp")  # names are unique; a crash's leftover is swept by its name
        try:
            with open(temp, "wb") as out:
                out.write(memoryview(data))
            os.replace(temp, path)
        finally:
            if os.path.exists(temp):
                os.remove(temp)

    def read(self, path: str) -> bytes | None:
        """The object's bytes, or None when there is none."""
        try:
            with self.fs.open_input_stream(path) as stream:
                data: bytes = stream.read()
                return data
        except FileNotFoundError:
            return None

    def delete(self, paths: list[str], missing_ok: bool = True) -> None:
        for path in paths:
            try:
                self.fs.delete_file(path)
            except FileNotFoundError:
                if not missing_ok:
                    raise

    def make_root(self) -> None:
        """Create the root folder where folders exist (object stores have none to make)."""
        if self.local:
            os.makedirs(self.root, exist_ok=True)


def open_log(root: str) -> LogStore:
    """The store of a log root (a local path or a URI pyarrow knows); raises :class:`OfflineStoreError`."""
    if "://" not in root:
        return LogStore(pafs.LocalFileSystem(), root, True, root)
    check_log_uri(root)
    try:
        fs, path = pafs.FileSystem.from_uri(root)
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        raise OfflineStoreError(f"the action log URI {_shown(root)} cannot be opened: {exc}") from exc
    local = isinstance(fs, pafs.LocalFileSystem)
    return LogStore(fs, path, local, _shown(root))
