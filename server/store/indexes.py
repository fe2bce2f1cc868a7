"""Secondary indexes on the documents table, declared per collection.

The GIN index on ``data`` (``jsonb_path_ops``) serves every equality filter.
Ranges, orderings and full-text search need indexes on expressions, and the
planner uses an expression index only when the query's expression is the
same: so these definitions are built by the very functions the compiler uses
for queries (``compiler.json_expression`` and ``compiler.search_document``),
with the path and configuration spelled out where queries bind them. Each
index is partial on its collection, so it stays small and the planner only
considers it for that collection's queries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import Connection, sql

from server.store.compiler import ANALYZER_ALIASES, json_expression, order_text, order_value, search_document
from server.store.criteria import Field
from server.store.errors import InvalidArgument

#: A btree holds at most 32 columns; an equality index uses three besides its fields.
MAX_EQUALITY_FIELDS = 16


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """``value``: a btree on one field's sort keys (ranges, ordering); ``text``: full-text search over fields;
    ``equality``: without fields, the collection's own GIN index of ``data`` (equality filters); with
    fields, a btree that answers a filter of equalities on exactly those fields page by page.

    A value index holds ``(tenant, sort keys of the field, created_at, id)``:
    exactly a query's ``ORDER BY field`` with its tie-breakers, so a range on
    the field ordered by it reads the first page from the index and stops,
    whatever the collection's size. The table's GIN index spans every
    collection: an equality filter pays for the matches of other collections
    that hold the same values (and every write's documents); an equality
    index holds only its collection's.

    An equality index with fields holds ``(tenant, each field's JSON value,
    created_at, id)``. A GIN index finds every match, which must then be
    sorted for the default order: a value shared by a thousandth of a million
    documents costs a thousand rows for a page of ten. With every field fixed
    by the filter, this btree is already in the default order, so the page is
    the first rows of one index range, whatever the collection's size
    (``Statements.find``).
    """

    collection: str
    kind: str
    fields: tuple[str, ...]
    analyzer: str = "simple"

    def __post_init__(self) -> None:
        if self.kind not in ("value", "text", "equality"):
            raise InvalidArgument(f"index kind {self.kind!r}: use 'value', 'text' or 'equality'")
        if self.kind == "value" and len(self.fields) != 1:
            raise InvalidArgument("a value index covers exactly one field")
        if self.kind == "equality" and len(set(self.fields)) != len(self.fields):
            raise InvalidArgument("an equality index names each field once")
        if self.kind == "equality" and len(self.fields) > MAX_EQUALITY_FIELDS:
            raise InvalidArgument(f"an equality index covers at most {MAX_EQUALITY_FIELDS} fields")
        for name in self.fields:
            if Field.parse(name).column is not None:
                raise InvalidArgument(f"{name!r} is a record column; its index already exists")

    @property
    def name(self) -> str:
        identity: tuple[object, ...] = (self.collection, self.kind, self.fields, self.analyzer)
        if self.kind == "value":
            identity += ("sort keys",)  # value indexes once held the bare JSON value: new shape, new name
        digest = hashlib.sha1(repr(identity).encode()).hexdigest()
        return f"idx_documents_{self.kind}_{digest[:16]}"

    def definition(self) -> sql.Composed:
        paths = [sql.SQL("{}::text[]").format(sql.Literal(list(Field.parse(f).path))) for f in self.fields]
        keys: sql.Composable
        if self.kind == "value":
            method = sql.SQL("btree")
            keys = sql.SQL("tenant, {}, {}, created_at, id").format(
                order_value(paths[0], paths[0]), order_text(paths[0])
            )
        elif self.kind == "equality" and self.fields:
            # The expressions Compiler.exact_equality compares, then the default order.
            method = sql.SQL("btree")
            keys = sql.SQL("tenant, {}, created_at, id").format(sql.SQL(", ").join(map(json_expression, paths)))
        elif self.kind == "equality":
            # As the table's own GIN index (server.store.schema), for one collection.
            method, keys = sql.SQL("gin"), sql.SQL("data jsonb_path_ops")
        else:
            config = sql.SQL("{}::regconfig").format(sql.Literal(ANALYZER_ALIASES.get(self.analyzer, self.analyzer)))
            method, keys = sql.SQL("gin"), sql.SQL("({})").format(search_document(config, paths))
        return sql.SQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON documents USING {method} ({keys})"
            " WHERE collection = {collection}"
        ).format(
            name=sql.Identifier(self.name),
            method=method,
            keys=keys,
            collection=sql.Literal(self.collection),
        )


class BuiltIndexes:
    """The declared indexes a store has seen built, which its statements may rely on.

    Only an equality index with fields changes how a query is written (its
    page is read straight from the index, without the guards of
    ``Statements.find``), and that shape is only safe once the index exists;
    until a store has built or checked it, its queries keep the guarded
    shapes. One instance is shared by a store and its per-tenant views.

    Under row-level security it records none: PostgreSQL then uses no
    condition on ``data`` in an index scan (its operators are not leakproof,
    so they must wait for the policy's), and the equality index could only be
    read whole for the tenant, then sorted.
    """

    def __init__(self, row_level_security: bool = False) -> None:
        self._row_level_security = row_level_security
        self._ordered_equalities: set[tuple[str, frozenset[tuple[str, ...]]]] = set()

    def add(self, specs: Iterable[IndexSpec]) -> None:
        if self._row_level_security:
            return
        for spec in specs:
            if spec.kind == "equality" and spec.fields:
                self._ordered_equalities.add((spec.collection, frozenset(Field.parse(f).path for f in spec.fields)))

    def orders_equalities(self, collection: str, paths: frozenset[tuple[str, ...]]) -> bool:
        """Whether an index answers equality on exactly these paths in the default order."""
        return (collection, paths) in self._ordered_equalities


def ensure_indexes(conn: Connection[Any], specs: Sequence[IndexSpec]) -> list[str]:
    """Create the declared indexes that are missing; returns the names created.

    CONCURRENTLY keeps the table writable while an index builds; it needs an
    autocommit connection. An invalid leftover of an interrupted build is
    dropped and built again.
    """
    created = []
    for spec in specs:
        row = conn.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.oid = to_regclass(%s)",
            (spec.name,),
        ).fetchone()
        if row is not None and row[0]:
            continue
        if row is not None:
            conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(spec.name)))
        conn.execute(spec.definition())
        created.append(spec.name)
    return created
