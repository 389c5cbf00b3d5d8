"""Compaction of an action log: each date folder's old small parts merged into one, training data unchanged.

``python -m feast_pinot.offline.compact LOG --older-than 1h`` (LOG: a folder or
a URI, as the log's ``path``). The ingester writes a part per date per
checkpoint; readers slow down with the count, and the "first written copy of
an ``action_id`` counts" rule reads every part. Per date folder, the parts
written more than ``--older-than`` ago (their names start with the write
time) become one part:

* it holds only the rows that count: the first copy of each ``action_id`` in
  the whole log (every folder, write order) among the copies readers take (an
  embedding that is not finite is skipped before the dedup: such rows are kept
  as they are, still skipped, still logged). A copy that does not count is
  dropped, which changes nothing a reader computes;
* it is named after the earliest part it replaces (``<that part's name>-c-<id>``),
  so it sorts at that part's place. Every row in it was the first copy of its
  id, so at an earlier place it still is: training data is the same;
* it is written whole, then the parts it replaces are deleted. A reader in
  between sees each counting row twice with the same content, at the same
  place or earlier, and the rule keeps one: the same training data, whenever
  the command is killed. Run it again and it finishes the job (idempotent).

Parts written while it runs have later names and are left alone: the ingester
can keep writing late events into the same folders. Nothing is renamed, so it
works on object storage as on a local disk.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from feast_pinot.errors import FeastPinotError, OfflineStoreError
from feast_pinot.offline.parts import list_parts, part_bytes
from feast_pinot.offline.storage import LogStore, open_log

__all__ = ["Compaction", "compact_log", "main", "parse_age"]

_NAME = re.compile(r"^(part-(\d{20})-[0-9a-f]{12})(?:-c-[0-9a-f]{12})*\.parquet$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


@dataclass(frozen=True)
class Compaction:
    """What a run did."""

    parts_before: int
    parts_after: int
    folders: int
    rows_kept: int
    rows_dropped: int


def parse_age(text: str) -> float:
    """``90s``, ``30m``, ``1h``, ``2d`` in seconds."""
    found = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if found is None:
        raise OfflineStoreError(f"--older-than {text!r}: expected a number and a unit (s, m, h, d), e.g. 1h")
    return float(found.group(1)) * _UNITS[found.group(2)]


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _folder(path: str) -> str:
    return path.rsplit("/", 1)[0]


def _ids_and_skipped(store: LogStore, path: str) -> tuple[pa.ChunkedArray, np.ndarray]:
    """The part's action ids, and which of its rows readers skip (an embedding that is not finite)."""
    names = pq.read_schema(path, filesystem=store.fs).names
    table = pq.read_table(path, columns=[c for c in ("action_id", "embedding") if c in names], filesystem=store.fs)
    skipped = np.zeros(table.num_rows, bool)
    if "embedding" in names:
        embeddings = table.column("embedding")
        # a missing value inside an embedding is no finite number either (the engines' loaders skip it too)
        bad = ~pc.is_finite(pc.list_flatten(embeddings)).fill_null(False).to_numpy(zero_copy_only=False)
        rows = pc.list_parent_indices(embeddings).to_numpy(zero_copy_only=False)
        skipped = np.bincount(rows[bad], minlength=table.num_rows) > 0
    return table.column("action_id"), skipped


def _counting(store: LogStore, parts: list[str]) -> list[np.ndarray]:
    """Per part (write order), which rows to keep: the first copy of each ``action_id`` in the whole log
    among those readers take, and the rows readers skip (kept as they are)."""
    try:
        found = [_ids_and_skipped(store, p) for p in parts]
    except (OSError, KeyError, pa.ArrowInvalid) as exc:
        raise OfflineStoreError(f"reading the action ids of {store.shown}: {exc}") from exc
    every = pd.Series(pa.chunked_array([c for ids, _ in found for c in ids.chunks], pa.string()).to_pandas())
    skipped = np.concatenate([s for _, s in found]) if found else np.zeros(0, bool)
    first = ~every.where(~skipped).duplicated(keep="first").to_numpy() & ~skipped
    keep = first | skipped
    bounds = np.cumsum([0, *(len(ids) for ids, _ in found)])
    return [keep[bounds[i]:bounds[i + 1]] for i in range(len(parts))]


def _old(path: str, cutoff_ns: int) -> bool:
    found = _NAME.match(_name(path))
    return found is not None and int(found.group(2)) < cutoff_ns


def _merge(store: LogStore, group: list[str], keep: dict[str, np.ndarray]) -> tuple[str | None, int, int]:
    """Write the group's counting rows as one part named after its earliest; (its path or None, kept, dropped)."""
    tables = []
    for path in group:
        table = pq.read_table(path, filesystem=store.fs)
        tables.append(table.filter(pa.array(keep[path])))
    merged = pa.concat_tables(tables, promote_options="default")
    dropped = sum(len(keep[p]) for p in group) - merged.num_rows
    if merged.num_rows == 0:  # only copies that do not count: nothing to keep
        return None, 0, dropped
    first = _NAME.match(_name(group[0]))
    assert first is not None  # the group holds only parts whose names match
    target = f"{_folder(group[0])}/{first.group(1)}-c-{uuid.uuid4().hex[:12]}.parquet"
    store.write_whole(target, part_bytes(merged))
    return target, merged.num_rows, dropped


def compact_log(root: str, older_than_s: float, now_ns: int | None = None) -> Compaction:
    """Compact the log at ``root`` (see the module's docstring); raises :class:`OfflineStoreError`."""
    store = open_log(root)
    parts = list_parts(store)
    cutoff = (time.time_ns() if now_ns is None else now_ns) - int(older_than_s * 1e9)
    keep = dict(zip(parts, _counting(store, parts)))
    groups: dict[str, list[str]] = {}
    for path in parts:  # write order: each group's first part is its earliest
        if _old(path, cutoff):
            groups.setdefault(_folder(path), []).append(path)
    kept = dropped = replaced = written = 0
    for group in groups.values():
        if len(group) < 2 and keep[group[0]].all():
            continue  # one part, every row counts: already compact
        try:
            target, rows, lost = _merge(store, group, keep)
            store.delete(group)
        except OSError as exc:
            raise OfflineStoreError(f"compacting {_folder(group[0])} of {store.shown}: {exc}; the log reads the "
                                    f"same (run the command again to finish)") from exc
        kept, dropped, replaced, written = kept + rows, dropped + lost, replaced + len(group), written + bool(target)
    return Compaction(len(parts), len(parts) - replaced + written, len(groups), kept, dropped)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m feast_pinot.offline.compact", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log", help="the action log: a folder or a URI (s3://bucket/prefix, ...)")
    parser.add_argument("--older-than", default="1h", help="compact parts written before this long ago (1h)")
    args = parser.parse_args(argv)
    try:
        done = compact_log(args.log, parse_age(args.older_than))
    except FeastPinotError as error:
        print(f"compact: {error}", file=sys.stderr)
        return 2
    print(f"{args.log}: {done.parts_before} part(s) -> {done.parts_after}; {done.folders} date folder(s) with old "
          f"parts; {done.rows_kept} row(s) rewritten, {done.rows_dropped} later copies dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
