"""Query building: quoted identifiers, escaped and whitelisted literals, LIMIT always, no empty IN."""

from __future__ import annotations

import math

import pinotdb.db
import pytest

from feast_pinot.online.pinot.errors import PinotSchemaError, PinotValueError
from feast_pinot.online.pinot.sql import Condition, literal, select


def test_history_query_text() -> None:
    query = select(
        "p_actions", ["actor", "timestamp"],
        [Condition("actor", "IN", [7, 8]), Condition("timestamp", ">", 100)],
        limit=20, order_by=[("actor", False), ("timestamp", True)],
    )
    assert query.sql == ('SELECT "actor", "timestamp" FROM "p_actions" WHERE "actor" IN (7, 8) '
                         'AND "timestamp" > 100 ORDER BY "actor", "timestamp" DESC LIMIT 20')


@pytest.mark.parametrize(("value", "sql"), [
    ("o'brien", "'o''brien'"),
    ("back\\slash", "'back\\slash'"),  # Calcite: backslash is an ordinary character
    ("*", "'*'"),  # pinotdb would send this one unquoted
    ("50%(x)s %% done", "'50%(x)s %% done'"),  # pinotdb's own escaping breaks on these
    ("x' OR '1'='1", "'x'' OR ''1''=''1'"),
    ("-- comment", "'-- comment'"),
    ("", "''"),
    (-(2**63), "-9223372036854775808"),
    (0.1, "0.1"),
])
def test_literals_survive_pinotdb_unchanged(value: object, sql: str) -> None:
    query = select("t", ["a"], [Condition("a", "=", value)], limit=1)
    assert query.sql == f'SELECT "a" FROM "t" WHERE "a" = {sql} LIMIT 1'
    # What pinotdb puts in the request body is exactly that text.
    assert pinotdb.db.apply_parameters(query.template, query.params) == query.sql


@pytest.mark.parametrize("value", [True, None, b"ab", math.nan, math.inf, 2**63, [1], object(), "it''s", "''"])
def test_other_values_are_refused(value: object) -> None:
    with pytest.raises(PinotValueError, match="Pinot"):
        literal(value)


def test_every_query_has_a_limit_and_no_empty_in() -> None:
    with pytest.raises(PinotValueError, match="LIMIT must be an int in 1..2147483647, got 0"):
        select("t", None, [], limit=0)
    with pytest.raises(PinotValueError, match="an IN list must not be empty"):
        select("t", None, [Condition("a", "IN", [])], limit=1)
    with pytest.raises(PinotValueError, match="IN needs a sequence of values, got str"):
        select("t", None, [Condition("a", "IN", "abc")], limit=1)
    with pytest.raises(PinotValueError, match="operator 'LIKE'"):
        select("t", None, [Condition("a", "LIKE", "x%")], limit=1)


@pytest.mark.parametrize("name", ['a"b', "a b", "1a", "a;b", "", "tbl--"])
def test_identifiers_are_checked(name: str) -> None:
    with pytest.raises(PinotSchemaError, match="not a valid Pinot identifier"):
        select(name, None, [], limit=1)
    with pytest.raises(PinotSchemaError, match="not a valid Pinot identifier"):
        select("t", [name], [], limit=1)
