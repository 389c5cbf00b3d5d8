"""What differs between the Feast releases the offline store supports (0.65 to 0.67).

* Feast 0.66 added ``filter_by_created_timestamp`` to
  ``OfflineStore.get_historical_features`` (and to the ibis helper the DuckDB
  store uses); Feast 0.65 has no such parameter and never asks for it. The flag
  is therefore passed on only when it is set, which every supported Feast
  accepts.
* Feast 0.67 resolves the requested on-demand views in the order of the feature
  references; 0.65 and 0.66 list them in registry order, which depends on the
  order of applies. Training data's columns follow the references on all three.
"""

from __future__ import annotations

from feast import OnDemandFeatureView
from feast.infra.registry.base_registry import BaseRegistry

__all__ = ["created_flag", "requested_odfvs"]


def created_flag(flag: bool) -> dict[str, bool]:
    """``filter_by_created_timestamp`` as keyword arguments: only when asked for."""
    return {"filter_by_created_timestamp": True} if flag else {}


def requested_odfvs(feature_refs: list[str], project: str, registry: BaseRegistry) -> list[OnDemandFeatureView]:
    """The on-demand views ``feature_refs`` name, in the order of their first reference."""
    first: dict[str, int] = {}
    for position, ref in enumerate(feature_refs):
        first.setdefault(ref.split(":", 1)[0].split("@", 1)[0], position)  # "view@v2:feature" pins a version
    odfvs = OnDemandFeatureView.get_requested_odfvs(feature_refs, project, registry)
    return sorted(odfvs, key=lambda odfv: first.get(odfv.name, len(feature_refs)))
