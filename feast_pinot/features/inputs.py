"""What every engine parses the same way: request times, candidates, verbs and object keys.

* :func:`request_time`: a row's request time (epoch ms, 2001 to 2100), or a
  422-mapped error;
* :func:`candidate_matrix`: candidate embeddings as rows, a zero row where a
  candidate is missing or malformed (its similarities are then 0);
* :class:`KeyCodes`: the seen features' one code space for the actions'
  object keys and the rows' candidate keys (an object's key is
  :meth:`SeenSpec.object_key`; a missing or malformed key matches nothing);
* :func:`verb_codes`: verbs as their position in the view's ``read_verbs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from feast_pinot.errors import RequestFieldError
from feast_pinot.keys import epoch_ms_problem, is_int64
from feast_pinot.specs import SeenSpec, WindowedFeaturesSpec

__all__ = ["KeyCodes", "candidate_keys", "candidate_matrix", "request_ms", "request_time", "verb_codes"]


def request_time(value: Any, field: str, row: int) -> int:
    """A request's time (epoch ms, 2001 to 2100), or :class:`RequestFieldError` naming the field and row."""
    ms = request_ms(value, field, row)
    if problem := epoch_ms_problem(ms):
        raise RequestFieldError(f"'{field}' {problem} in row {row}")
    return ms


def request_ms(value: Any, field: str, row: int) -> int:
    """:func:`request_time` without the plausible range: what the ODFV body checks.

    ``feast apply`` runs that body on a sample whose ``request_ts`` is 1; every
    read reaching it checked its request times with :func:`request_time` before
    (both online stores' reads, the offline store).
    """
    if value is None:
        raise RequestFieldError(f"'{field}' is required (epoch ms of the request), got null in row {row}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise RequestFieldError(f"'{field}' must be epoch ms (an integer), got {value!r} in row {row}")
    if not is_int64(int(value)):
        raise RequestFieldError(f"'{field}' must be epoch ms within int64, got {value!r} in row {row}")
    return int(value)


def candidate_matrix(values: Sequence[Any] | pa.Array | pa.ChunkedArray, dim: int) -> np.ndarray:
    """Candidate embeddings as (n, dim) float64; a missing one (None, a null) or one of another length is zero."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return _arrow_matrix(values, dim)
    out = np.zeros((len(values), dim))
    for i, candidate in enumerate(values):
        if np.ndim(candidate) == 1 and len(candidate) == dim:  # not None, pd.NA, ...
            out[i] = np.asarray(candidate, dtype=np.float64)
    return out


def _arrow_matrix(column: pa.Array | pa.ChunkedArray, dim: int) -> np.ndarray:
    values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    ok = pc.fill_null(pc.equal(pc.list_value_length(values), dim), False)
    out = np.zeros((len(values), dim))
    mask = ok.to_numpy(zero_copy_only=False)
    if mask.any():
        out[mask] = values.filter(ok).flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
    return out


def verb_codes(spec: WindowedFeaturesSpec, verbs: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Each verb's 1-based position in ``spec.read_verbs``; 0 for any other verb."""
    number = {verb: i + 1 for i, verb in enumerate(spec.read_verbs)}
    return np.array([number.get(v, 0) for v in verbs], np.int64)


_NO_KEY = object()  # a candidate without a key: equal to nothing


def candidate_keys(seen: SeenSpec, values: Sequence[Any]) -> list[Any]:
    """Each row's candidate key as the object keys hold it; :data:`_NO_KEY` where missing or malformed."""
    if seen.key_is_int:
        return [int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) else _NO_KEY
                for v in values]
    return [v if isinstance(v, str) else _NO_KEY for v in values]


@dataclass(frozen=True)
class KeyCodes:
    """The actions' object keys as dense codes (-1: none), and the code of each key."""

    actions: np.ndarray  # (n,) int64 per action
    index: dict[Any, int]

    @classmethod
    def of(cls, spec: SeenSpec, objects: np.ndarray, names: Sequence[Any]) -> KeyCodes:
        """From each action's object as a code into ``names`` (-1: null), the distinct objects.

        Each distinct object is parsed once.
        """
        keys = np.array([spec.object_key(n) if isinstance(n, str) else None for n in names] + [None], dtype=object)
        key_codes, uniques = pd.factorize(keys)  # None: -1
        # -1 (a null object) picks the trailing None
        return cls(key_codes[objects].astype(np.int64), {key: code for code, key in enumerate(uniques)})

    @classmethod
    def of_objects(cls, spec: SeenSpec, objects: Sequence[Any]) -> KeyCodes:
        """From each action's object (a string, or None)."""
        codes, names = pd.factorize(pd.Series(objects, dtype=object), use_na_sentinel=True)
        return cls.of(spec, codes.astype(np.int64), list(names))

    @classmethod
    def of_arrow(cls, spec: SeenSpec, encoded: pa.DictionaryArray) -> KeyCodes:
        """From the actions' objects, dictionary-encoded."""
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        return cls.of(spec, codes.astype(np.int64), encoded.dictionary.to_pylist())

    def candidates(self, spec: SeenSpec, values: Sequence[Any]) -> np.ndarray:
        """Each row's candidate key as a code; -1 where missing, malformed or never acted on."""
        return np.fromiter((self.index.get(key, -1) for key in candidate_keys(spec, values)), np.int64,
                           count=len(values))
