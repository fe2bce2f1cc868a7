"""Criteria → parameterized SQL over the ``documents`` table.

Every field path and every value reaches PostgreSQL as a bind parameter; only
fixed SQL fragments written here are ever spliced in. Equality on ``data`` keys
becomes ``data @> {...}`` containment so the GIN index serves it (Kinto's
approach); comparisons check the JSON type first, because JSONB orders values
of different types by type and ``"9" > "10"`` as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from server.store.criteria import (
    MAX_DEPTH,
    And,
    Compare,
    Criteria,
    Equals,
    Field,
    In,
    MatchAll,
    Or,
    OrderBy,
    TextSearch,
    VectorNearest,
)
from server.store.errors import InvalidArgument, Unimplemented
from server.store.json_values import dumps, isoformat, normalize

TRUE = sql.SQL("TRUE")
FALSE = sql.SQL("FALSE")

#: Text search configuration used when a request names none (or Lucene's "standard").
DEFAULT_ANALYZER = "simple"
ANALYZER_ALIASES = {"": DEFAULT_ANALYZER, "standard": DEFAULT_ANALYZER}
#: A path segment PostgreSQL's ``#>`` reads as an array position (as C's strtol does):
#: containment cannot express those, so equality on such paths compares values directly.
ARRAY_POSITION = re.compile(r"\s*[+-]?[0-9]+\Z")
#: A (schema-qualified) configuration name; PostgreSQL itself decides whether it exists.
ANALYZER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")

# Timestamps inside ``data`` are strings. PostgreSQL 15's jsonpath ``.datetime()``
# does not read a trailing "Z" nor more than six fraction digits, so "Z" is
# rewritten to "+00:00" and sub-microsecond digits are dropped first; with
# ``silent => true`` a string that is no timestamp simply does not match.
_TIME_TEST = {
    "=": "$ ? (@.datetime() == $v.datetime())",
    ">": "$ ? (@.datetime() > $v.datetime())",
    "<": "$ ? (@.datetime() < $v.datetime())",
    ">=": "$ ? (@.datetime() >= $v.datetime())",
    "<=": "$ ? (@.datetime() <= $v.datetime())",
}


# -- expressions shared with index definitions (server.store.indexes) ----------------
# The planner uses an expression index only for an identical expression; in a
# custom plan (criteria statements are never prepared: ``Statement.prepare``) a
# bound path parameter becomes the same constant the index was built with, so
# queries bind their paths and indexes spell them out, through the same builders.


def json_expression(path: sql.Composable) -> sql.Composed:
    """The JSON value at ``path`` (a text[]) in data."""
    return sql.SQL("(data #> {})").format(path)


def text_expression(path: sql.Composable) -> sql.Composed:
    """The value at ``path`` as text."""
    return sql.SQL("(data #>> {})").format(path)


def order_value(path: sql.Composable, path_again: sql.Composable) -> sql.Composed:
    """A field's first sort key: its JSON value, with strings left out (NULL).

    JSONB orders strings by the database collation, filters compare them in
    code-point order, so strings sort as a group after the other JSON types,
    by :func:`order_text`. Comparisons of numbers and booleans are written on
    this same expression so that one btree (``IndexSpec`` kind ``value``)
    serves a range and its ordering together. ``path`` appears twice; queries
    bind it twice.
    """
    return sql.SQL("(CASE WHEN jsonb_typeof({x}) = 'string' THEN NULL ELSE {x2} END)").format(
        x=json_expression(path), x2=json_expression(path_again)
    )


def order_text(path: sql.Composable) -> sql.Composed:
    """A field's second sort key: its text, by code point (what orders strings)."""
    return sql.SQL('({} COLLATE "C")').format(text_expression(path))


def search_document(config: sql.Composable, paths: Sequence[sql.Composable]) -> sql.Composed:
    """The tsvector text search reads: the listed fields joined, or every string of data."""
    if paths:
        text = sql.SQL(" || ' ' || ").join(sql.SQL("coalesce({}, '')").format(text_expression(p)) for p in paths)
        return sql.SQL("to_tsvector({}, {})").format(config, text)
    return sql.SQL("jsonb_to_tsvector({}, data, '[\"string\"]')").format(config)


def json_param(value: Any) -> Jsonb:
    return Jsonb(value, dumps=dumps)


def _kind(value: Any) -> str:
    """The JSON type a filter value compares as (``time`` for timestamps)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "time"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise InvalidArgument(f"a {type(value).__name__} cannot be a filter value")


def exactly_comparable(equals: Equals) -> bool:
    """Whether ``equals`` may be written on the field's JSON value (``data #> path = value``).

    That is what an equality index (``IndexSpec`` kind ``equality`` with
    fields) holds. Any equality on a path into data may, except with a
    timestamp, which compares as a time and not as its text. Arrays, objects
    and paths with array positions are compared this way already
    (:meth:`Compiler.equals`); for other values the store writes containment,
    which matches exactly the same documents: containment only differs from
    equality for arrays and objects (an array contains its elements).
    """
    return equals.field.column is None and _kind(equals.value) != "time"


@dataclass
class Compiler:
    """Accumulates bind parameters while it turns a criteria tree into SQL.

    ``id_is_uuid`` adapts to a table the seed library made (``id UUID``): ids
    are compared as text there, so a non-UUID id simply matches nothing.
    """

    id_is_uuid: bool = False
    params: list[Any] = field(default_factory=list)

    def param(self, value: Any, cast: str | None = None) -> sql.Composable:
        self.params.append(value)
        return sql.SQL("%s::" + cast) if cast else sql.SQL("%s")

    # -- fields -------------------------------------------------------------

    def column(self, name: str) -> sql.Composable:
        if name == "id" and self.id_is_uuid:
            return sql.SQL('(id::text COLLATE "C")')
        return sql.Identifier(name)

    def json_at(self, path: tuple[str, ...]) -> sql.Composable:
        return json_expression(self.param(list(path), "text[]"))

    def text_at(self, path: tuple[str, ...]) -> sql.Composable:
        return text_expression(self.param(list(path), "text[]"))

    def order_value_at(self, path: tuple[str, ...]) -> sql.Composable:
        return order_value(self.param(list(path), "text[]"), self.param(list(path), "text[]"))

    def order_text_at(self, path: tuple[str, ...]) -> sql.Composable:
        return order_text(self.param(list(path), "text[]"))

    # -- criteria -----------------------------------------------------------

    def where(self, criteria: Criteria, depth: int = 0) -> sql.Composable:
        if depth > MAX_DEPTH:
            raise InvalidArgument(f"criteria nest and/or deeper than {MAX_DEPTH} levels")
        if isinstance(criteria, MatchAll):
            return TRUE
        if isinstance(criteria, (And, Or)):
            if not criteria.items:
                return TRUE if isinstance(criteria, And) else FALSE
            parts = [self.where(item, depth + 1) for item in criteria.items]
            joiner = sql.SQL(" AND " if isinstance(criteria, And) else " OR ")
            return sql.SQL("({})").format(joiner.join(parts))
        if isinstance(criteria, Equals):
            return self.equals(criteria.field, criteria.value)
        if isinstance(criteria, In):
            if not criteria.values:
                return FALSE
            return sql.SQL("({})").format(
                sql.SQL(" OR ").join(self.equals(criteria.field, value) for value in criteria.values)
            )
        if isinstance(criteria, Compare):
            return self.compare(criteria.field, criteria.op, criteria.value)
        if isinstance(criteria, TextSearch):
            return self.text_search(criteria)
        if isinstance(criteria, VectorNearest):
            raise InvalidArgument(
                "vector_search ranks and limits a query's results: it may stand alone or inside and_filter"
                " of a query, never inside or_filter, a count, a delete or an update"
            )
        raise Unimplemented(f"{type(criteria).__name__} filters are not supported yet")

    def equals(self, field_: Field, value: Any) -> sql.Composable:
        if field_.column is not None:
            return self.column_compare(field_.column, "=", value)
        kind = _kind(value)
        if kind == "time":
            return self.time_compare(field_.path, "=", value)
        if kind in ("array", "object") or any(ARRAY_POSITION.match(segment) for segment in field_.path):
            # Containment is not equality for arrays and objects, and ``#>`` reads
            # digit segments as array positions: compare the exact value instead.
            return self.exact_equality(field_, value)
        nested: Any = normalize(value, str(field_))
        for segment in reversed(field_.path):
            nested = {segment: nested}
        return sql.SQL("(data @> {})").format(self.param(json_param(nested), "jsonb"))

    def exact_equality(self, field_: Field, value: Any) -> sql.Composable:
        """The field's JSON value equals ``value``, as an equality index holds it (see :func:`exactly_comparable`)."""
        value = normalize(value, str(field_))
        return sql.SQL("({} = {})").format(self.json_at(field_.path), self.param(json_param(value), "jsonb"))

    def compare(self, field_: Field, op: str, value: Any) -> sql.Composable:
        if field_.column is not None:
            return self.column_compare(field_.column, op, value)
        kind = _kind(value)
        if kind == "time":
            return self.time_compare(field_.path, op, value)
        if kind in ("number", "boolean"):
            # On the sort key (numbers and booleans are themselves there), so an
            # index on the field's sort keys serves the range and its ordering.
            value = normalize(value, str(field_))
            return sql.SQL("(jsonb_typeof({x}) = {kind} AND {key} {op} {v})").format(
                x=self.json_at(field_.path),
                kind=sql.Literal(kind),
                key=self.order_value_at(field_.path),
                op=sql.SQL(op),
                v=self.param(json_param(value), "jsonb"),
            )
        if kind == "string":
            normalize(value, str(field_))
            return sql.SQL("(jsonb_typeof({x}) = 'string' AND {key} IS NULL AND {t} {op} {v})").format(
                x=self.json_at(field_.path),
                key=self.order_value_at(field_.path),
                t=self.order_text_at(field_.path),
                op=sql.SQL(op),
                v=self.param(value, "text"),
            )
        raise InvalidArgument(f"{field_}: a {kind} value cannot be compared with {op}")

    def time_compare(self, path: tuple[str, ...], op: str, value: datetime) -> sql.Composable:
        return sql.SQL(
            "(jsonb_typeof({x}) = 'string' AND jsonb_path_exists_tz("
            "to_jsonb(regexp_replace(regexp_replace({t}, '[Zz]$', '+00:00'), '(\\.[0-9]{{6}})[0-9]+', '\\1')), "
            "{test}::jsonpath, "
            "jsonb_build_object('v', {v}), true))"
        ).format(
            x=self.json_at(path),
            t=self.text_at(path),
            test=sql.Literal(_TIME_TEST[op]),
            v=self.param(isoformat(value), "text"),
        )

    def column_compare(self, column: str, op: str, value: Any) -> sql.Composable:
        """Columns have one type each; a value of another type never matches.

        A value no JSON document could hold (NaN, Infinity, NUL) is refused all
        the same, whatever it is compared with.
        """
        kind = _kind(value)
        if kind != "time":
            normalize(value, column)
        if column == "id":
            if kind != "string":
                return FALSE
            return sql.SQL("({} {} {})").format(self.column("id"), sql.SQL(op), self.param(value, "text"))
        if column == "version":
            if kind != "number":
                return FALSE
            return sql.SQL("(version {} {})").format(sql.SQL(op), self.param(value, "numeric"))
        if kind == "string":
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                return FALSE
            kind = "time"
        if kind != "time":
            return FALSE
        return sql.SQL("({} {} {})").format(sql.Identifier(column), sql.SQL(op), self.param(value, "timestamptz"))

    def text_search(self, search: TextSearch) -> sql.Composable:
        query = search.query.strip()
        if not query:
            raise InvalidArgument("text_search needs a non-empty query")
        normalize(query, "text_search.query")
        analyzer = ANALYZER_ALIASES.get(search.analyzer, search.analyzer)
        if not ANALYZER_NAME.fullmatch(analyzer):
            raise InvalidArgument(f"analyzer {analyzer!r} is not a text search configuration name")
        if any(f.column is not None for f in search.fields):
            raise InvalidArgument("text_search fields must be paths into data, not record columns")
        document = search_document(
            self.param(analyzer, "regconfig"), [self.param(list(f.path), "text[]") for f in search.fields]
        )
        return sql.SQL("({} @@ plainto_tsquery({}, {}))").format(
            document, self.param(analyzer, "regconfig"), self.param(query, "text")
        )

    # -- ordering -----------------------------------------------------------

    def order_by(self, items: Iterable[OrderBy]) -> sql.Composable:
        """Requested keys first, then ``created_at, id`` so pages never overlap."""
        keys: list[sql.Composable] = []
        for item in items:
            direction = sql.SQL("ASC" if item.ascending else "DESC")
            if item.field.column:
                keys.append(sql.SQL("{} {}").format(self.column(item.field.column), direction))
                continue
            # Strings sort as a group after the other JSON types, by code point, so
            # ordering and filtering agree on every database (see order_value).
            keys.append(sql.SQL("{} {}").format(self.order_value_at(item.field.path), direction))
            keys.append(sql.SQL("{} {}").format(self.order_text_at(item.field.path), direction))
        keys.append(sql.SQL("created_at ASC"))
        keys.append(sql.SQL("id ASC"))
        return sql.SQL(", ").join(keys)
