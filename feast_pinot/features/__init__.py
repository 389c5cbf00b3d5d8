"""The home of the feature families: one definition that every engine runs.

* :mod:`~feast_pinot.features.base`: the arrays every engine hands the
  families (:class:`Actions`, :class:`Groups`, :class:`Rows`) and what a
  family is (:class:`Family`, :class:`Kind`, :class:`Output`);
* the families, one module each: :mod:`~feast_pinot.features.windows`,
  :mod:`~feast_pinot.features.decay`, :mod:`~feast_pinot.features.seen`,
  :mod:`~feast_pinot.features.interests`;
* :mod:`~feast_pinot.features.table`: :data:`FAMILIES`, the one table of
  output names (:func:`output_names`) and :func:`compute`, which every engine
  calls;
* :mod:`~feast_pinot.features.inputs`: what every engine parses the same way
  (request times, candidates, verbs, object keys);
* :mod:`~feast_pinot.features.histories` and
  :mod:`~feast_pinot.features.odfv`: the request-time feeding and the
  windowed ODFV's body.

The engines: the ODFV body (:func:`windowed_features`), the online ranking
read (:mod:`feast_pinot.online.windowed_read`) and the training-data engines
(:mod:`feast_pinot.offline`) only turn their input into the base arrays and
take the arrays :func:`compute` returns by output name.
"""

from feast_pinot.features.base import Actions, Embeddings, Family, Groups, Kind, KindName, Output, Rows, verb_slug
from feast_pinot.features.odfv import windowed_features
from feast_pinot.features.seen import NO_SEEN_AGE
from feast_pinot.features.table import FAMILIES, KINDS, Computed, compute, output_names

__all__ = [
    "FAMILIES",
    "KINDS",
    "NO_SEEN_AGE",
    "Actions",
    "Computed",
    "Embeddings",
    "Family",
    "Groups",
    "Kind",
    "KindName",
    "Output",
    "Rows",
    "compute",
    "output_names",
    "verb_slug",
    "windowed_features",
]
