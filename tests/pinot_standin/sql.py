"""Pinot single-stage SQL, checked against a whitelist and run on DuckDB.

The query is parsed with sqlglot, every node is checked against the subset the
stand-in implements, names are resolved the way Pinot's broker does
(case-insensitive, ``x_REALTIME`` = ``x``, unknown column = 710), unquoted
reserved words are rejected (150), and the Pinot semantics DuckDB lacks are
added to the translated query: the upsert valid-doc filter, the default
``LIMIT 10``, unspecified row order without ``ORDER BY``, and the aggregation
results of an empty selection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.simplify import simplify

from tests.pinot_standin.model import FieldSpec
from tests.pinot_standin.storage import Storage, TableData

__all__ = ["QueryError", "Plan", "plan", "ERROR_NAMES", "RESERVED"]

ERROR_NAMES = {
    150: "SQLParsingError", 190: "TableDoesNotExistError", 200: "QueryExecutionError",
    250: "ExecutionTimeoutError", 410: "BrokerResourceMissingError", 427: "ServerNotResponding",
    450: "InternalError", 710: "UnknownColumnError",
}
# Calcite reserved words Pinot keeps reserved (TIMESTAMP, TIME, DATE: reference §9.3) plus
# structural keywords; OBJECT, VALUE and USER are non-reserved in Pinot.
RESERVED = frozenset({
    "TIMESTAMP", "TIME", "DATE", "SELECT", "FROM", "WHERE", "GROUP", "ORDER", "BY", "LIMIT", "OFFSET",
    "AND", "OR", "NOT", "IN", "IS", "NULL", "AS", "ON", "JOIN", "UNION", "CASE", "WHEN", "THEN", "ELSE",
    "END", "BETWEEN", "LIKE", "DISTINCT", "HAVING", "TRUE", "FALSE", "ALL", "ANY", "EXISTS", "CAST",
    "INTERVAL", "YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND", "CURRENT_TIMESTAMP", "TABLE",
})
_ALLOWED = (
    exp.Select, exp.From, exp.Table, exp.Identifier, exp.Column, exp.Star, exp.Where, exp.And, exp.Or,
    exp.Not, exp.Paren, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between,
    exp.Literal, exp.Neg, exp.Boolean, exp.Alias, exp.Count, exp.Min, exp.Max, exp.Sum, exp.Group,
    exp.Order, exp.Ordered, exp.Limit, exp.Offset, exp.Anonymous,
)
_AGGREGATES = (exp.Count, exp.Min, exp.Max, exp.Sum, exp.Anonymous)
_EMPTY_AGGREGATE: dict[type[exp.Expression], str] = {
    exp.Min: "'Infinity'::DOUBLE", exp.Max: "'-Infinity'::DOUBLE", exp.Sum: "0.0",
}
DEFAULT_LIMIT = 10


class QueryError(Exception):
    """A broker exception: ``{"errorCode": code, "message": "<Name>:\\n<detail>"}``."""

    def __init__(self, code: int, detail: str | None = None) -> None:
        name = ERROR_NAMES[code]
        self.code = code
        self.message = name if detail is None else f"{name}:\n{detail}"
        super().__init__(self.message)


def unsupported(what: str) -> QueryError:
    return QueryError(450, f"the Pinot stand-in does not implement {what}")


@dataclass(frozen=True)
class Output:
    name: str
    pinot_type: str
    field: FieldSpec | None  # the column a projection reads, for null defaults


@dataclass(frozen=True)
class Plan:
    data: TableData
    duck_sql: str
    outputs: tuple[Output, ...]
    aggregation_only: bool
    always_false: bool


def _parse(sql: str) -> exp.Select:
    try:
        statements = [s for s in sqlglot.parse(sql) if s is not None]
    except (ParseError, TokenError) as exc:
        raise QueryError(150, str(exc).splitlines()[0]) from None
    if any(isinstance(s, exp.Set) for s in statements):
        raise unsupported("SET statements; send options in queryOptions")
    if len(statements) != 1:
        raise QueryError(150, f"expected one statement, got {len(statements)}")
    if not isinstance(statements[0], exp.Select):
        raise QueryError(150, f"Unsupported SqlKind {type(statements[0]).__name__.upper()}: only SELECT queries")
    return statements[0]


def _check(select: exp.Select) -> None:
    for node in select.walk():
        if not isinstance(node, _ALLOWED):
            raise unsupported(f"{type(node).__name__} ({node.sql()})")
        if isinstance(node, exp.Identifier) and not node.quoted and node.name.upper() in RESERVED:
            raise QueryError(150, f'Encountered "{node.name}": a reserved keyword; quote it as "{node.name}"')
        if isinstance(node, exp.Anonymous) and node.name.upper() != "DISTINCTCOUNT":
            raise unsupported(f"the function {node.name}")
        if isinstance(node, exp.Column) and node.table:
            raise unsupported(f"qualified column names ({node.sql()})")
    froms = select.args.get("from") or select.args.get("from_")
    if froms is None or not isinstance(froms.this, exp.Table):
        raise unsupported("queries without a single FROM table")


def _table(select: exp.Select, storage: Storage) -> TableData:
    table = select.find(exp.Table)
    assert table is not None  # _check guarantees one
    data = storage.get(table.name)
    if data is None:
        raise QueryError(190)
    table.set("this", exp.to_identifier(data.duck_name))
    return data


def _resolve_columns(select: exp.Select, data: TableData) -> None:
    aliases = {a.alias.lower() for a in select.expressions if isinstance(a, exp.Alias)}
    for column in list(select.find_all(exp.Column)):
        in_order = column.find_ancestor(exp.Order) is not None
        if in_order and column.name.lower() in aliases:
            continue
        spec = data.schema.field(column.name)
        if spec is None:
            raise QueryError(710, f"Unknown columnName '{column.name}' found in the query")
        column.replace(exp.column(exp.to_identifier(spec.name, quoted=True)))


def _expand_star(select: exp.Select, data: TableData) -> None:
    if any(isinstance(e, exp.Star) for e in select.expressions):
        names = sorted(f.name for f in data.schema.fields)  # Pinot: physical columns, alphabetical
        select.set("expressions", [exp.column(exp.to_identifier(n, quoted=True)) for n in names])


def _aggregate_output(node: exp.Expression, data: TableData) -> tuple[str, str, exp.Expression]:
    arg = node.this if not isinstance(node, exp.Anonymous) else (node.expressions or [None])[0]
    if isinstance(node, exp.Count) and isinstance(arg, exp.Star):
        return "count(*)", "LONG", node
    if not isinstance(arg, exp.Column):
        raise unsupported(f"aggregations over expressions ({node.sql()})")
    column = arg.name
    if isinstance(node, exp.Count):
        return f"count({column})", "LONG", node
    if isinstance(node, exp.Anonymous):
        distinct = exp.Count(this=exp.Distinct(expressions=[arg.copy()]))
        return f"distinctcount({column})", "INT", exp.cast(distinct, "INT")
    function = type(node).__name__.lower()
    empty = sqlglot.parse_one(_EMPTY_AGGREGATE[type(node)], read="duckdb")
    coalesced = cast(exp.Expression, exp.func("COALESCE", exp.cast(node.copy(), "DOUBLE"), empty))
    return f"{function}({column})", "DOUBLE", coalesced


def _outputs(select: exp.Select, data: TableData) -> tuple[list[Output], bool]:
    outputs: list[Output] = []
    has_aggregate = False
    for projection in list(select.expressions):
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        if isinstance(inner, _AGGREGATES):
            has_aggregate = True
            name, pinot_type, translated = _aggregate_output(inner, data)
            inner.replace(translated)
            field = None
        elif isinstance(inner, exp.Column):
            field = data.schema.field(inner.name)
            assert field is not None  # resolved before
            name, pinot_type = field.name, field.data_type + ("" if field.single_value else "_ARRAY")
        else:
            raise unsupported(f"the projection {projection.sql()}")
        alias = projection.alias if isinstance(projection, exp.Alias) else name
        outputs.append(Output(alias, pinot_type, field))
    return outputs, has_aggregate


def _always_false(select: exp.Select) -> bool:
    """Whether the filter folds to FALSE without reading data (e.g. ``1 = 0``)."""
    where = select.args.get("where")
    if where is None or not any(_constant(node) for node in where.walk()):
        return False  # nothing to fold; simplify() costs ~2 ms per query
    return bool(simplify(where.this.copy()) == exp.false())


def _constant(node: exp.Expression) -> bool:
    if isinstance(node, exp.Boolean):
        return True
    return isinstance(node, exp.Binary) and not any(node.find_all(exp.Column))


def plan(sql: str, storage: Storage, options: dict[str, str]) -> Plan:
    select = _parse(sql)
    _check(select)
    data = _table(select, storage)
    _expand_star(select, data)
    _resolve_columns(select, data)
    always_false = _always_false(select)
    outputs, has_aggregate = _outputs(select, data)
    aggregation_only = has_aggregate and not select.args.get("group")
    if data.table.upsert_comparison is not None and options.get("skipUpsert", "").lower() != "true":
        select.where(exp.column(exp.to_identifier("__valid", quoted=True)), append=True, copy=False)
    if not aggregation_only:
        if not select.args.get("limit"):
            select.limit(DEFAULT_LIMIT, copy=False)
        if not select.args.get("order"):
            select.order_by("random()", copy=False)  # Pinot: unspecified order
    return Plan(data, select.sql(dialect="duckdb"), tuple(outputs), aggregation_only, always_false)


def null_default(value: Any, output: Output, nulls_enabled: bool) -> Any:
    """A stored NULL as the query sees it: null only with null handling on both sides."""
    if value is not None or output.field is None or nulls_enabled:
        return value
    default = output.field.default_null
    return default if output.field.single_value else [default]
