"""Where registries applied before :mod:`feast_pinot.features` find the windowed ODFV's body.

A windowed view's UDF text imports ``feast_pinot.windows.windowed_features``
(Feast keeps that text, and a pickle of it, in the registry), so this module
stays: it re-exports the body and the names declared alongside it. The
families themselves live in :mod:`feast_pinot.features`.
"""

from feast_pinot.features import NO_SEEN_AGE, output_names, verb_slug, windowed_features

__all__ = ["NO_SEEN_AGE", "output_names", "verb_slug", "windowed_features"]
