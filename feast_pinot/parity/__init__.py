"""Online/offline parity as a command: ``python -m feast_pinot.parity --repo PATH --service NAME``.

Two modes (docs/parity.md): *sample* reads sampled rows online at a pinned
instant and rebuilds them with ``get_historical_features``; *served* rebuilds
logged online responses (Feast's feature-logging schema, see :func:`served_log`).
Every feature of the service is compared, vectors element-wise.
"""

from feast_pinot.parity.check import ParityReport, check_sample, check_served, served_log
from feast_pinot.parity.compare import FeatureParity

__all__ = ["FeatureParity", "ParityReport", "check_sample", "check_served", "served_log"]
