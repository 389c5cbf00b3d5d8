"""The offline action log and the engines that read it point-in-time.

* :mod:`feast_pinot.offline.parts` - the Parquet parts of an action log: where
  they live, their schema, writing and listing them. The ingester imports this
  module only; it needs neither Feast's offline store nor DuckDB.
* :mod:`feast_pinot.offline.history` - action histories as of each entity row's
  time, with one DuckDB range join.
* :mod:`feast_pinot.offline.windows` - windowed features straight from the log
  with per-actor prefix sums (the offline twin of :mod:`feast_pinot.windows`),
  with :mod:`~feast_pinot.offline.decay`, :mod:`~feast_pinot.offline.seen` and
  :mod:`~feast_pinot.offline.interests` for the decayed, already-acted-on and
  multi-interest features over the same ranges.
* :mod:`feast_pinot.offline.duckdb` - the one way both engines open DuckDB.

:mod:`feast_pinot.offline_store` is the Feast adapter over these modules.
Nothing is imported here, so importing the parts module stays cheap.
"""
