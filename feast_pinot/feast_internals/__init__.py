"""The one door to Feast's private names: every use of one goes through this package.

* :mod:`~feast_pinot.feast_internals.online`: Feast's request pipeline (the
  helpers Feast's ``OnlineStore.get_online_features`` calls), which the
  online store's ranking read reuses;
* :mod:`~feast_pinot.feast_internals.offline`: the DuckDB store's data-source
  reader and writer, which the offline store reuses;
* :mod:`~feast_pinot.feast_internals.push`: the ``PushMode`` of the
  ``FeatureStore.push`` in progress, which Feast does not pass on to the stores.

Those names are private to Feast and may change in any release, so each is
wrapped here, called by keyword, and listed in its module's ``INTERNALS`` with
the parameters the wrapper passes. ``tests/unit/test_feast_internals.py``
checks every entry against the installed Feast (a Feast that renamed or
reshaped one fails that test by name instead of a request failing in
production) and that no other module of the product uses a private Feast
name. Two modules, so that the ingester, which reaches the online store,
never loads Feast's offline stores.
"""
