"""The families, the one table of their outputs, and the computation every engine calls.

Adding a family is a module beside the others that defines its kinds, its
outputs and their computation as a :class:`~feast_pinot.features.base.Family`,
one entry in :data:`FAMILIES`, its declaration (``windowed_action_features``
and :mod:`feast_pinot.specs`) and its docs. The engines name nothing: they
take the arrays :func:`compute` returns by output name.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from feast_pinot.features import decay, interests, seen, windows
from feast_pinot.features.base import Actions, Family, Groups, Inputs, Kind, KindName, Output, Rows
from feast_pinot.specs import WindowedFeaturesSpec

__all__ = ["FAMILIES", "KINDS", "Computed", "compute", "output_names"]

# in declaration order: a view's outputs are its windows', then its decays', seen's and interests'
FAMILIES: tuple[Family, ...] = (windows.FAMILY, decay.FAMILY, seen.FAMILY, interests.FAMILY)
KINDS: dict[KindName, Kind] = {kind.name: kind for family in FAMILIES for kind in family.kinds}
_FAMILY_OF: dict[KindName, Family] = {kind.name: family for family in FAMILIES for kind in family.kinds}


@functools.lru_cache(maxsize=64)
def output_names(spec: WindowedFeaturesSpec) -> dict[str, Output]:
    """``{feature name: output}`` of a view, in declaration order (cached: do not mutate)."""
    return {name: output for family in FAMILIES for name, output in family.outputs(spec)}


@dataclass(frozen=True)
class Computed:
    """The outputs asked for: member-level ones per group, per-candidate ones per row."""

    values: dict[str, np.ndarray]
    group: np.ndarray  # each row's group

    def column(self, name: str, output: Output) -> np.ndarray:
        """The output's value for every row (a member-level value repeated over its group's rows)."""
        values = self.values[name]
        return values if output.per_candidate else values[self.group]


def compute(spec: WindowedFeaturesSpec, actions: Actions, groups: Groups, rows: Rows,
            wanted: Collection[str]) -> Computed:
    """The ``wanted`` outputs of ``spec`` (names of :func:`output_names`) for these groups and rows."""
    declared = output_names(spec)
    inputs = Inputs(spec, actions, groups, rows)
    values: dict[str, np.ndarray] = {}
    for family in FAMILIES:
        asked = {name: declared[name] for name in wanted if _FAMILY_OF[declared[name].kind.name] is family}
        if asked:
            values |= family.compute(inputs, asked)
    return Computed(values, rows.group)
