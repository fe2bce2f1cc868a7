"""Query criteria: a small, typed tree that front doors build and the compiler reads.

The gRPC adapter turns ``QueryCriteria`` messages into these nodes, and library
callers may build them directly (or pass a plain mapping for equality). Keeping
the tree independent of protobuf means one compiler serves both front doors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from server.store.errors import InvalidArgument

#: Record columns a field name can address; everything else is a path into ``data``.
COLUMNS = ("id", "created_at", "updated_at", "version")
#: Prefix that forces a path into ``data`` even when it starts like a column name.
DATA_PREFIX = "data."
#: Deepest nesting of and/or accepted; deeper trees are refused, not recursed into.
MAX_DEPTH = 64
#: The longest field path accepted, in characters.
MAX_FIELD_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class Field:
    """A parsed field name: a record column, or a key path into ``data``."""

    column: str | None
    path: tuple[str, ...] = ()

    @classmethod
    def parse(cls, name: str) -> Field:
        """``profile.city`` is a data path; ``id``/``created_at``/... are columns;
        ``data.id`` reaches a data key that shares a column's name."""
        if not name:
            raise InvalidArgument("a field name is empty")
        if len(name) > MAX_FIELD_LENGTH:
            raise InvalidArgument(f"field name longer than {MAX_FIELD_LENGTH} characters")
        if "\x00" in name:
            raise InvalidArgument("field names may not contain the NUL character (\\u0000)")
        if name in COLUMNS:
            return cls(column=name)
        if name.startswith(DATA_PREFIX):
            name = name[len(DATA_PREFIX) :]
        segments = tuple(name.split("."))
        if any(segment == "" for segment in segments):
            raise InvalidArgument(f"field {name!r} has an empty path segment")
        return cls(column=None, path=segments)

    def __str__(self) -> str:
        return self.column if self.column is not None else ".".join(self.path)


@dataclass(frozen=True, slots=True)
class Equals:
    field: Field
    value: Any


@dataclass(frozen=True, slots=True)
class Compare:
    """Strict (``>``, ``<``) or inclusive (``>=``, ``<=``) comparison with one value."""

    field: Field
    op: Literal[">", "<", ">=", "<="]
    value: Any


@dataclass(frozen=True, slots=True)
class In:
    field: Field
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class TextSearch:
    """Every word of ``query`` must occur in the listed fields (all of ``data`` when none)."""

    fields: tuple[Field, ...]
    query: str
    analyzer: str = "simple"


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Criteria, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Criteria, ...]


@dataclass(frozen=True, slots=True)
class MatchAll:
    """No condition: every document of the collection."""


@dataclass(frozen=True, slots=True)
class VectorNearest:
    """Rank by closeness to ``vector`` (or to the vector of document ``like_id``) and keep the best.

    Not a filter: a query holds at most one, alone or inside ``And`` (see ``vectors``).
    ``field``, ``metric`` and ``dimensions`` left empty take the collection's configuration.
    """

    field: Field | None
    vector: tuple[float, ...] = ()
    limit: int = 0
    threshold: float | None = None
    metric: str = ""
    like_id: str | None = None
    dimensions: int | None = None
    #: Never use an approximate (HNSW) index for this search.
    exact: bool = False


Criteria = Equals | Compare | In | TextSearch | And | Or | MatchAll | VectorNearest


@dataclass(frozen=True, slots=True)
class OrderBy:
    field: Field
    ascending: bool = True


@dataclass(frozen=True, slots=True)
class Query:
    """Everything a read needs besides the collection: what, in which order, which page."""

    criteria: Criteria = field(default_factory=MatchAll)
    order_by: tuple[OrderBy, ...] = ()
    limit: int | None = None
    offset: int = 0
    projections: tuple[Field, ...] = ()
    #: Also return soft-deleted documents (see ``statements.DELETED_KEY``).
    include_deleted: bool = False


def range_of(field_: Field, low: Any = None, high: Any = None) -> Criteria:
    """An inclusive range; a missing end leaves that side open."""
    bounds: list[Criteria] = []
    if low is not None:
        bounds.append(Compare(field_, ">=", low))
    if high is not None:
        bounds.append(Compare(field_, "<=", high))
    if not bounds:
        raise InvalidArgument(f"range on {field_} needs a min_value, a max_value or both")
    return bounds[0] if len(bounds) == 1 else And(tuple(bounds))


def from_mapping(filters: Mapping[str, Any] | None) -> Criteria:
    """The seed library's ``query(collection, {"status": "active"})``: equality on each key."""
    if not filters:
        return MatchAll()
    items = tuple(Equals(Field.parse(name), value) for name, value in filters.items())
    return items[0] if len(items) == 1 else And(items)


def coerce(criteria: Criteria | Mapping[str, Any] | None) -> Criteria:
    """Accept a criteria tree, a mapping of equalities, or None for everything."""
    if criteria is None or isinstance(criteria, Mapping):
        return from_mapping(criteria)
    return criteria


def ordering(spec: Sequence[OrderBy | str] | None) -> tuple[OrderBy, ...]:
    """Order-by items; a plain string sorts ascending, ``-name`` descending."""
    result = []
    for item in spec or ():
        if isinstance(item, OrderBy):
            result.append(item)
        elif item.startswith("-"):
            result.append(OrderBy(Field.parse(item[1:]), ascending=False))
        else:
            result.append(OrderBy(Field.parse(item)))
    return tuple(result)


def is_time(value: Any) -> bool:
    return isinstance(value, datetime)
