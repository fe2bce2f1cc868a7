"""An in-memory evaluator of the documented query semantics: the query compiler's oracle.

Everything here follows ``docs/contract.md`` (sections "Values and fields", "Criteria",
"order_by, limit, offset, projections"), written independently of ``server.store``: the
property tests in ``test_properties.py`` run the same documents and ``QueryCriteria``
through the real server and through :func:`run`, and the answers must agree.

Two exceptions signal that the oracle will not predict an answer:

- :class:`Invalid`: the documented answer is ``INVALID_ARGUMENT``.
- :class:`Inexact`: the documented semantics do not pin the answer down on every
  database (strings inside arrays/objects compare by the database collation), or a
  known, separately tested difference between the docs and PostgreSQL is involved.
  Callers skip what raised it.

Filter values are described by :class:`Value`: the packed ``Any`` type and its payload,
so the oracle also models what each wire type denotes (a ``FloatValue`` is float32, a
``google.protobuf.Value`` number is a double, a ``Timestamp`` is truncated to the
microsecond like every stored time).
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

#: Record columns a field name can address; anything else is a path into ``data``.
COLUMNS = ("id", "created_at", "updated_at", "version")
DATA_PREFIX = "data."
MAX_FIELD_LENGTH = 1024
MAX_NAME_LENGTH = 255
DEFAULT_PAGE = 1000
MAX_PAGE = 10000
MAX_EXACT_INTEGER = 2**53
#: Text search configurations the oracle can evaluate (``""`` and ``standard`` mean ``simple``).
SIMPLE_ANALYZERS = ("", "standard", "simple")
#: A well-formed configuration name that no database defines: INVALID_ARGUMENT ("unknown name").
MISSING_ANALYZER = "no_such_config"
ANALYZER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
#: Timestamps inside data the docs describe: ISO/SQL date, optional time (T or space),
#: optional fraction, optional offset or trailing Z.
ISO_TEXT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?)?"
    r"(?:(Z)|([+-])(\d{2}):(\d{2}))?"
)
#: Strings whose order is the same in every collation (the oracle's "exact" strings).
COLLATION_SAFE = re.compile(r"[a-z]*")
FIRST_SECOND = -62135596800  # 0001-01-01T00:00:00Z
LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z


class Invalid(Exception):
    """The documented answer is INVALID_ARGUMENT."""


class Inexact(Exception):
    """The oracle does not predict this answer exactly (see the module docstring)."""


class _Missing:
    """A path that leads nowhere (SQL NULL from ``#>``)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

# -- JSON values --------------------------------------------------------------------------


def kind_of(value: Any) -> str:
    """The JSON type of a stored value (``bool`` before ``int``: Python's bool is an int)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, datetime):
        return "time"
    raise TypeError(f"not a JSON value: {value!r}")


def as_double(value: Any) -> Any:
    """A JSON value as it comes out of a protobuf ``Struct``/``Value``: every number a double,
    and integral doubles within ±2**53 read back as integers (docs: "Struct ↔ JSONB")."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        number = float(value)
        if number.is_integer() and abs(number) <= MAX_EXACT_INTEGER:
            return int(number)
        return number
    if isinstance(value, list):
        return [as_double(item) for item in value]
    if isinstance(value, dict):
        return {key: as_double(item) for key, item in value.items()}
    raise TypeError(f"not a JSON value: {value!r}")


def number(value: int | float) -> Decimal:
    """A JSON number as PostgreSQL's ``numeric`` reads its JSON text (floats by their repr)."""
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def json_equal(left: Any, right: Any) -> bool:
    """JSONB equality: numbers numerically, objects regardless of key order, arrays in order."""
    kind = kind_of(left)
    if kind != kind_of(right):
        return False
    if kind == "number":
        return number(left) == number(right)
    if kind == "array":
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    if kind == "object":
        return left.keys() == right.keys() and all(json_equal(left[key], right[key]) for key in left)
    return bool(left == right)


def refuse_bad_json(value: Any, where: str) -> None:
    """NaN, ±Infinity and NUL (in strings or keys) are refused anywhere in a value."""
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(f"{where}: {value} is not a JSON number")
    if isinstance(value, str) and "\x00" in value:
        raise Invalid(f"{where}: NUL in a string")
    if isinstance(value, list):
        for item in value:
            refuse_bad_json(item, where)
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                raise Invalid(f"{where}: NUL in a key")
            refuse_bad_json(item, where)


# -- documents ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    id: str
    data: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int = 1


def stored_data(data: dict[str, Any]) -> dict[str, Any]:
    """``Record.data`` as stored: refused when it is not JSON, numbers as ``Struct`` has them."""
    refuse_bad_json(data, "record data")
    if "_deleted_at" in data:
        raise Invalid("'_deleted_at' is reserved")
    result: dict[str, Any] = as_double(data)
    return result


def check_name(name: str, what: str) -> None:
    if not 1 <= len(name) <= MAX_NAME_LENGTH or "\x00" in name:
        raise Invalid(f"bad {what}")


# -- fields -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    column: str | None
    path: tuple[str, ...] = ()


def parse_field(name: str) -> Field:
    """Field names (docs: "Field names")."""
    if not name or len(name) > MAX_FIELD_LENGTH or "\x00" in name:
        raise Invalid(f"bad field name {name!r}")
    if name in COLUMNS:
        return Field(name)
    if name.startswith(DATA_PREFIX):
        name = name[len(DATA_PREFIX) :]
    segments = tuple(name.split("."))
    if "" in segments:
        raise Invalid(f"field {name!r} has an empty segment")
    return Field(None, segments)


def array_position(segment: str) -> int | None:
    """Docs: "a segment made only of digits selects an array element"."""
    if segment.isascii() and segment.isdigit():
        position = int(segment)
        return position if position <= 2**31 - 1 else None
    return None


def value_at(data: Any, path: Sequence[str]) -> Any:
    """The JSON value at ``path`` (object keys; all-digit segments also index arrays), or MISSING."""
    current = data
    for segment in path:
        if isinstance(current, dict):
            if segment not in current:
                return MISSING
            current = current[segment]
        elif isinstance(current, list):
            position = array_position(segment)
            if position is None or position >= len(current):
                return MISSING
            current = current[position]
        else:
            return MISSING
    return current


# -- filter values ------------------------------------------------------------------------


def float32(value: float) -> float:
    result: float = struct.unpack("<f", struct.pack("<f", value))[0]
    return result


@dataclass(frozen=True)
class Value:
    """A filter value as packed into ``google.protobuf.Any``.

    ``payload`` is the Python value put into the message: a str/bool/int/float for the
    wrappers, any JSON value for ``value``/``list``/``struct``, ``(seconds, nanos)`` for
    ``timestamp``; ``value_unset`` is a ``google.protobuf.Value`` with no kind set.
    """

    wire: str
    payload: Any = None

    def meaning(self) -> Any:
        """What the value compares as (docs: "Filter values"): JSON, or a datetime for time."""
        wire, payload = self.wire, self.payload
        if wire in ("string", "bool", "int32", "int64", "uint32", "uint64"):
            refuse_bad_json(payload, "filter value")
            return payload
        if wire == "double":
            refuse_bad_json(payload, "filter value")
            return float(payload)
        if wire == "float":
            refuse_bad_json(payload, "filter value")
            return float32(payload)
        if wire in ("value", "list", "struct"):
            refuse_bad_json(payload, "filter value")
            return as_double(payload)
        if wire == "value_unset":
            return None
        seconds, nanos = payload
        if not (FIRST_SECOND <= seconds <= LAST_SECOND and 0 <= nanos <= 999_999_999):
            raise Invalid("Timestamp out of range")
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=nanos // 1000)


# -- criteria -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Equals:
    field: str
    value: Value


@dataclass(frozen=True)
class GreaterThan:
    field: str
    value: Value


@dataclass(frozen=True)
class LessThan:
    field: str
    value: Value


@dataclass(frozen=True)
class In:
    field: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Range:
    field: str
    low: Value | None = None
    high: Value | None = None


@dataclass(frozen=True)
class TextSearch:
    query: str
    fields: tuple[str, ...] = ()
    analyzer: str = ""


@dataclass(frozen=True)
class And:
    items: tuple[Criteria, ...] = ()


@dataclass(frozen=True)
class Or:
    items: tuple[Criteria, ...] = ()


@dataclass(frozen=True)
class Unset:
    """A ``QueryCriteria`` with no oneof set: every document."""


Criteria = Equals | GreaterThan | LessThan | In | Range | TextSearch | And | Or | Unset

#: A compiled criteria: the predicate over one document.
Predicate = Callable[[Doc], bool]


def compile_criteria(criteria: Criteria) -> Predicate:
    """The predicate for ``criteria``; raises Invalid for anything the docs refuse.

    The whole tree is checked before any document is looked at, as the server does.
    """
    if isinstance(criteria, Unset):
        return lambda _doc: True
    if isinstance(criteria, (And, Or)):
        parts = [compile_criteria(item) for item in criteria.items]
        if isinstance(criteria, And):
            return lambda doc: all(part(doc) for part in parts)
        return lambda doc: any(part(doc) for part in parts)
    if isinstance(criteria, Equals):
        return _equals(parse_field(criteria.field), criteria.value.meaning())
    if isinstance(criteria, In):
        target = parse_field(criteria.field)
        tests = [_equals(target, value.meaning()) for value in criteria.values]
        return lambda doc: any(test(doc) for test in tests)
    if isinstance(criteria, GreaterThan):
        return _compare(parse_field(criteria.field), ">", criteria.value.meaning())
    if isinstance(criteria, LessThan):
        return _compare(parse_field(criteria.field), "<", criteria.value.meaning())
    if isinstance(criteria, Range):
        target = parse_field(criteria.field)
        low = criteria.low.meaning() if criteria.low is not None else None
        high = criteria.high.meaning() if criteria.high is not None else None
        if low is None and high is None:
            raise Invalid("range needs a min_value or a max_value")
        tests = []
        if low is not None:
            tests.append(_compare(target, ">=", low))
        if high is not None:
            tests.append(_compare(target, "<=", high))
        return lambda doc: all(test(doc) for test in tests)
    return _text_search(criteria)


def _equals(target: Field, expected: Any) -> Predicate:
    if target.column is not None:
        return _column(target.column, "=", expected)
    path = target.path
    if kind_of(expected) == "time":
        return lambda doc: _time_matches(value_at(doc.data, path), "=", expected)

    def test(doc: Doc) -> bool:
        found = value_at(doc.data, path)
        return found is not MISSING and json_equal(found, expected)

    return test


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b),
    ">": lambda a, b: bool(a > b),
    "<": lambda a, b: bool(a < b),
    ">=": lambda a, b: bool(a >= b),
    "<=": lambda a, b: bool(a <= b),
}


def _compare(target: Field, op: str, expected: Any) -> Predicate:
    if target.column is not None:
        return _column(target.column, op, expected)
    kind = kind_of(expected)
    if kind in ("null", "array", "object"):
        raise Invalid(f"a {kind} value cannot be compared with {op}")
    path = target.path
    if kind == "time":
        return lambda doc: _time_matches(value_at(doc.data, path), op, expected)
    compare = _OPERATORS[op]
    if kind == "number":
        bound = number(expected)
        return lambda doc: kind_of_at(doc, path) == "number" and compare(number(value_at(doc.data, path)), bound)
    # Strings in code-point order (COLLATE "C"), booleans false < true.
    return lambda doc: kind_of_at(doc, path) == kind and compare(value_at(doc.data, path), expected)


def kind_of_at(doc: Doc, path: Sequence[str]) -> str | None:
    found = value_at(doc.data, path)
    return None if found is MISSING else kind_of(found)


def parse_time_text(text: str) -> datetime | None:
    """A string inside data read as a time, per the docs; None if it is not one."""
    match = ISO_TEXT.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    if sign is not None:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        try:
            moment = moment - offset if sign == "+" else moment + offset
        except OverflowError:
            raise Inexact(f"{text!r} is outside Python's datetime range") from None
    del zulu  # "Z" and no offset both mean UTC
    return moment


def _time_matches(found: Any, op: str, expected: datetime) -> bool:
    if not isinstance(found, str):
        return False
    moment = parse_time_text(found)
    return moment is not None and _OPERATORS[op](moment, expected)


def parse_column_time(text: str) -> datetime | None:
    """A string compared with ``created_at``/``updated_at``: ISO 8601, Z accepted, no offset = UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _column(column: str, op: str, expected: Any) -> Predicate:
    """Columns have one type each; a value of another type matches nothing (not an error)."""
    compare = _OPERATORS[op]
    kind = kind_of(expected)
    if column == "id":
        if kind != "string":
            return lambda _doc: False
        return lambda doc: compare(doc.id, expected)
    if column == "version":
        if kind != "number":
            return lambda _doc: False
        bound = number(expected)
        return lambda doc: compare(Decimal(doc.version), bound)
    if kind == "string":
        expected = parse_column_time(expected)
        if expected is None:
            return lambda _doc: False
        kind = "time"
    if kind != "time":
        return lambda _doc: False
    return lambda doc: compare(getattr(doc, column), expected)


# -- text search (``simple`` configuration, ASCII words) ------------------------------------

WORD = re.compile(r"[A-Za-z]+")


def words(text: str) -> set[str]:
    """The ``simple`` configuration's lexemes of text made of ASCII words (lowercased).

    Exact only for such text: callers restrict text-search data and queries to ASCII
    letters, spaces, integers and JSON punctuation, which PostgreSQL's parser splits the
    same way (integers are lexemes too, but queries never contain digits).
    """
    return {word.lower() for word in WORD.findall(text)}


def jsonb_text(value: Any) -> str:
    """``#>>`` of a non-string value: PostgreSQL's JSONB output text."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def strings_in(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)


def _text_search(search: TextSearch) -> Predicate:
    query = search.query.strip()
    if not query or "\x00" in query:
        raise Invalid("text_search needs a non-empty query")
    if not ANALYZER_NAME.fullmatch(search.analyzer or "simple"):
        raise Invalid(f"analyzer {search.analyzer!r} is not a configuration name")
    if search.analyzer == MISSING_ANALYZER:
        raise Invalid(f"unknown text search configuration {search.analyzer!r}")
    if search.analyzer not in SIMPLE_ANALYZERS:
        raise Inexact(f"the oracle only knows the simple configuration, not {search.analyzer!r}")
    targets = [parse_field(name) for name in search.fields]
    if any(target.column is not None for target in targets):
        raise Invalid("text_search fields must be data paths")
    wanted = words(query)

    def searched(doc: Doc) -> set[str]:
        if not targets:
            return set().union(*(words(text) for text in strings_in(doc.data)))
        found: set[str] = set()
        for target in targets:
            value = value_at(doc.data, target.path)
            if value is MISSING or value is None:
                continue
            found |= words(value if isinstance(value, str) else jsonb_text(value))
        return found

    # A query without any word (only punctuation) matches nothing.
    return lambda doc: bool(wanted) and wanted <= searched(doc)


# -- ordering -----------------------------------------------------------------------------

#: JSONB's order of types when they meet inside arrays and objects.
_NESTED_RANK = {"null": 0, "string": 1, "number": 2, "boolean": 3, "array": 4, "object": 5}
#: The documented groups of a sort key, ascending.
_GROUP = {"null": 1, "number": 2, "boolean": 3, "array": 4, "object": 5, "string": 6}
_MISSING_GROUP = 7


def _sign(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


def _collated(a: str, b: str) -> int:
    """Strings inside arrays/objects compare by the database collation."""
    if a == b:
        return 0
    if COLLATION_SAFE.fullmatch(a) and COLLATION_SAFE.fullmatch(b):
        return _sign(a, b)
    raise Inexact(f"{a!r} and {b!r} inside a JSON container compare by the database collation")


def _storage_order(keys: Iterable[str]) -> list[str]:
    """JSONB stores object keys shorter first, then bytewise."""
    return sorted(keys, key=lambda key: (len(key.encode()), key.encode()))


def jsonb_compare(a: Any, b: Any) -> int:
    """JSONB's btree order for values nested in arrays and objects (and for two containers)."""
    kind_a, kind_b = kind_of(a), kind_of(b)
    if kind_a != kind_b:
        return _sign(_NESTED_RANK[kind_a], _NESTED_RANK[kind_b])
    if kind_a == "number":
        return _sign(number(a), number(b))
    if kind_a == "string":
        return _collated(a, b)
    if kind_a in ("boolean", "null"):
        return _sign(a, b) if kind_a == "boolean" else 0
    if len(a) != len(b):
        return _sign(len(a), len(b))  # more elements or pairs sort later
    if kind_a == "array":
        for item_a, item_b in zip(a, b, strict=True):
            result = jsonb_compare(item_a, item_b)
            if result:
                return result
        return 0
    for key_a, key_b in zip(_storage_order(a), _storage_order(b), strict=True):
        result = _collated(key_a, key_b) or jsonb_compare(a[key_a], b[key_b])
        if result:
            return result
    return 0


def _data_key_compare(a: Any, b: Any) -> int:
    """The documented ascending order of one data sort key (MISSING included)."""
    group_a = _MISSING_GROUP if a is MISSING else _GROUP[kind_of(a)]
    group_b = _MISSING_GROUP if b is MISSING else _GROUP[kind_of(b)]
    if group_a != group_b:
        if {group_a, group_b} & {_MISSING_GROUP, _GROUP["string"]}:
            return _sign(group_a, group_b)
        # PostgreSQL sorts a top-level [] before every scalar, JSON null included; the
        # docs put null first. test_empty_array_sorts_after_null pins that difference.
        if (a == [] and group_b <= _GROUP["boolean"]) or (b == [] and group_a <= _GROUP["boolean"]):
            raise Inexact("a top-level [] meets a scalar in a sort key")
        return _sign(group_a, group_b)
    if group_a == _MISSING_GROUP:
        return 0
    if group_a == _GROUP["string"]:
        return _sign(a, b)  # code-point order, COLLATE "C"
    return jsonb_compare(a, b)


@dataclass(frozen=True)
class OrderBy:
    field: str
    ascending: bool = False  # the proto3 default, which means DESCENDING


def sort(docs: Iterable[Doc], order_by: Sequence[OrderBy]) -> list[Doc]:
    """Docs in the documented order: the keys given, then ``created_at ASC, id ASC``."""
    keys = [(parse_field(item.field), item.ascending) for item in order_by]

    def compare(a: Doc, b: Doc) -> int:
        for target, ascending in keys:
            if target.column is not None:
                result = _sign(getattr(a, target.column), getattr(b, target.column))
            else:
                result = _data_key_compare(value_at(a.data, target.path), value_at(b.data, target.path))
            if result:
                return result if ascending else -result
        return _sign(a.created_at, b.created_at) or _sign(a.id, b.id)

    return sorted(docs, key=functools.cmp_to_key(compare))


# -- projections and the whole query --------------------------------------------------------


def project(data: dict[str, Any], paths: Sequence[tuple[str, ...]]) -> dict[str, Any]:
    """Only the listed key paths (object keys only: array positions are not supported)."""
    result: dict[str, Any] = {}
    for path in paths:
        current: Any = data
        for segment in path:
            if not isinstance(current, dict) or segment not in current:
                break
            current = current[segment]
        else:
            _merge(result, path, copy.deepcopy(current))
    return result


def _merge(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    head, rest = path[0], path[1:]
    if not rest:
        target[head] = value  # a shorter path already holds all of it, a longer one a part
        return
    if head in target and not isinstance(target[head], dict):
        return
    existing = target.get(head)
    if existing is None:
        existing = target[head] = {}
    _merge(existing, rest, value)


@dataclass(frozen=True)
class Query:
    table_name: str
    criteria: Criteria | None = None
    order_by: tuple[OrderBy, ...] = ()
    limit: int = 0
    offset: int = 0
    projections: tuple[str, ...] = ()
    aggregation: bool = False


@dataclass(frozen=True)
class Answer:
    """Ids and data in answer order, or the count of an AGGREGATION."""

    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    count: int | None = None


def run(docs: Sequence[Doc], query: Query) -> Answer:
    """The documented ExecuteRawQuery answer for ``docs`` (all in ``query.table_name``)."""
    check_name(query.table_name, "table_name")
    predicate = compile_criteria(query.criteria if query.criteria is not None else Unset())
    for item in query.order_by:
        parse_field(item.field)
    projected = [parse_field(name) for name in query.projections]
    limit = query.limit or DEFAULT_PAGE
    if not 1 <= limit <= MAX_PAGE or query.offset < 0:
        raise Invalid("limit or offset out of range")
    matching = [doc for doc in docs if predicate(doc)]
    if query.aggregation:
        return Answer(count=len(matching))
    page = sort(matching, query.order_by)[query.offset : query.offset + limit]
    if not query.projections:
        return Answer([(doc.id, doc.data) for doc in page])
    paths = [target.path for target in projected if target.column is None]
    return Answer([(doc.id, project(doc.data, paths)) for doc in page])
