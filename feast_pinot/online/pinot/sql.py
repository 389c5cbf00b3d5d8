"""SQL for Pinot's broker, built only from checked identifiers and escaped literals.

Rules (reference ``pinot.md`` §2.2, §9.3):

* identifiers match ``[A-Za-z_][A-Za-z0-9_]*`` and are always double-quoted,
  so reserved words such as ``timestamp`` are safe;
* values are ``int`` (LONG range), finite ``float`` or ``str`` and nothing else;
  strings become ``'...'`` with ``'`` doubled (Pinot's Calcite parser treats
  backslash as an ordinary character);
* a string holding two consecutive ``'`` is refused: after Calcite has undone
  the doubling, Pinot replaces ``''`` by ``'`` once more (``RequestUtils``,
  "legacy literal unescaping", the default from 0.11 through 1.5), so no
  literal would match such a value exactly;
* every query has an explicit ``LIMIT``; an ``IN`` list is never empty.

Literals are rendered here, not by pinotdb: pinotdb's escaping sends the string
``"*"`` unquoted and fails on ``%(`` inside SQL text. A :class:`Literal` is an
object, which pinotdb substitutes with ``str()`` into its ``%(name)s``
placeholder, so the SQL the broker receives is exactly :attr:`Query.sql`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from feast_pinot.online.pinot.errors import PinotSchemaError, PinotValueError

__all__ = ["MAX_LIMIT", "Condition", "Literal", "Query", "identifier", "literal", "matchable", "select"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = frozenset({"=", "<", "<=", ">", ">=", "IN"})
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
MAX_LIMIT = 2**31 - 1  # Pinot's LIMIT is a Java int


@dataclass(frozen=True)
class Literal:
    """A value already rendered as Pinot SQL."""

    text: str

    def __str__(self) -> str:
        return self.text


def identifier(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise PinotSchemaError(f"{name!r} is not a valid Pinot identifier: use letters, digits and '_'")
    return f'"{name}"'


def matchable(text: str) -> str:
    """``text``, if a Pinot string literal can match it exactly; else :class:`PinotValueError`."""
    if "''" in text:
        raise PinotValueError(f"{text!r} holds two consecutive single quotes, which Pinot's SQL parser reads as "
                              "one: no query could match it exactly")
    return text


def literal(value: object) -> Literal:
    # bool is an int subclass; Pinot has no place for it in these queries.
    if isinstance(value, int) and not isinstance(value, bool):
        if not _LONG_MIN <= value <= _LONG_MAX:
            raise PinotValueError(f"{value} is outside Pinot's LONG range")
        return Literal(str(value))
    if isinstance(value, float) and math.isfinite(value):
        return Literal(repr(value))
    if isinstance(value, str):
        return Literal("'" + matchable(value).replace("'", "''") + "'")
    raise PinotValueError(
        f"only int, finite float and str values go into Pinot SQL, got {type(value).__name__}: {value!r}"
    )


def _literal_list(values: Iterable[object]) -> Literal:
    rendered = [literal(v).text for v in values]
    if not rendered:
        raise PinotValueError("an IN list must not be empty: Pinot rejects IN ()")
    return Literal(", ".join(rendered))


@dataclass(frozen=True)
class Condition:
    column: str
    operator: str  # one of _OPERATORS
    value: object  # a sequence for IN


@dataclass(frozen=True)
class Query:
    """A SELECT with ``%(pN)s`` placeholders for its literals."""

    table: str
    template: str
    params: dict[str, Literal] = field(default_factory=dict)

    @property
    def sql(self) -> str:
        """The SQL text the broker receives."""
        return self.template % self.params


def _condition(condition: Condition, params: dict[str, Literal]) -> str:
    if condition.operator not in _OPERATORS:
        raise PinotValueError(f"operator {condition.operator!r} is not one of {sorted(_OPERATORS)}")
    name = f"p{len(params)}"
    if condition.operator == "IN":
        if isinstance(condition.value, (str, bytes)) or not isinstance(condition.value, Sequence):
            raise PinotValueError(f"IN needs a sequence of values, got {type(condition.value).__name__}")
        params[name] = _literal_list(condition.value)
        return f"{identifier(condition.column)} IN (%({name})s)"
    params[name] = literal(condition.value)
    return f"{identifier(condition.column)} {condition.operator} %({name})s"


def select(
    table: str,
    columns: Sequence[str] | None,
    where: Sequence[Condition],
    limit: int,
    order_by: Sequence[tuple[str, bool]] = (),
) -> Query:
    """``SELECT columns FROM table WHERE c1 AND c2 ... ORDER BY ... LIMIT limit``.

    ``columns=None`` selects ``*``; ``order_by`` is ``(column, descending)`` pairs.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_LIMIT:
        raise PinotValueError(f"LIMIT must be an int in 1..{MAX_LIMIT}, got {limit!r}")
    params: dict[str, Literal] = {}
    projection = "*" if columns is None else ", ".join(identifier(c) for c in columns)
    sql = f"SELECT {projection} FROM {identifier(table)}"
    if where:
        sql += " WHERE " + " AND ".join(_condition(c, params) for c in where)
    if order_by:
        sql += " ORDER BY " + ", ".join(identifier(c) + (" DESC" if desc else "") for c, desc in order_by)
    return Query(table, f"{sql} LIMIT {limit}", params)
