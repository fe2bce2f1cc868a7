"""Property-based tests: random documents and ``QueryCriteria`` against the query compiler's oracle.

Hypothesis makes documents (odd unicode, quote-laden keys and values, every JSON type,
ISO timestamps in data, explicit ``created_at``/``updated_at``) and criteria trees of
every filter kind, and sends them through a client compiled from the ORIGINAL contract
to the real server on a real PostgreSQL. ``tests/oracle.py`` evaluates the documented
semantics in memory over the same documents; the answers must be equal, in order,
with the same projected data, or both must be ``INVALID_ARGUMENT``.

The second half is a bad-input battery: nesting at and beyond the parser limit, page
and batch limits, oversized messages, NaN/±Infinity and NUL anywhere, malformed ids,
names and values. None of them may crash the server, answer ``UNKNOWN`` for a message
the server can parse, or store anything.
"""

from __future__ import annotations

import functools
import math
import re
import string
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2, json_format, struct_pb2, timestamp_pb2, wrappers_pb2
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from tests import oracle
from tests.conftest import ServerProcess, checked
from tests.oracle import Doc, Value

#: Shared by every property test; ``max_examples`` is set per test to keep the file fast.
PROPERTY = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
MiB = 1024 * 1024
#: The server's defaults (docs/contract.md, "Settings").
MAX_MESSAGE = 16 * MiB
MAX_PAGE = 10000
MAX_BATCH = 10000
#: and/or levels the server's protobuf parser accepts inside an ExecuteRawQueryRequest.
PARSER_DEPTH = 48
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# -- messages ---------------------------------------------------------------------------------


def fill_value(target: struct_pb2.Value, value: Any) -> None:
    """Any Python JSON value (NaN and NUL included, for the battery) into a ``Value``."""
    if value is None:
        target.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, (int, float)):
        target.number_value = float(value)
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, list):
        target.list_value.SetInParent()
        for item in value:
            fill_value(target.list_value.values.add(), item)
    else:
        fill_struct(target.struct_value, value)


def fill_struct(target: struct_pb2.Struct, data: Mapping[str, Any]) -> None:
    target.SetInParent()
    for key, item in data.items():
        fill_value(target.fields[key], item)


def stamp(moment: datetime) -> timestamp_pb2.Timestamp:
    delta = moment - EPOCH
    seconds = delta.days * 86400 + delta.seconds
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=delta.microseconds * 1000)


def moment_of(message: timestamp_pb2.Timestamp) -> datetime:
    return EPOCH + timedelta(seconds=message.seconds, microseconds=message.nanos // 1000)


def pack(value: Value) -> any_pb2.Any:
    """A filter value packed into ``Any`` as a caller of the old platform sends it."""
    wire, payload = value.wire, value.payload
    message: Any
    if wire == "string":
        message = wrappers_pb2.StringValue(value=payload)
    elif wire == "bool":
        message = wrappers_pb2.BoolValue(value=payload)
    elif wire == "int32":
        message = wrappers_pb2.Int32Value(value=payload)
    elif wire == "int64":
        message = wrappers_pb2.Int64Value(value=payload)
    elif wire == "uint32":
        message = wrappers_pb2.UInt32Value(value=payload)
    elif wire == "uint64":
        message = wrappers_pb2.UInt64Value(value=payload)
    elif wire == "float":
        message = wrappers_pb2.FloatValue(value=payload)
    elif wire == "double":
        message = wrappers_pb2.DoubleValue(value=payload)
    elif wire == "value":
        message = struct_pb2.Value()
        fill_value(message, payload)
    elif wire == "value_unset":
        message = struct_pb2.Value()
    elif wire == "list":
        message = struct_pb2.Value()
        fill_value(message, payload)
        message = message.list_value
    elif wire == "struct":
        message = struct_pb2.Struct()
        fill_struct(message, payload)
    else:
        seconds, nanos = payload
        message = timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def put_criteria(target: Any, criteria: oracle.Criteria) -> None:
    """Build ``criteria`` into the ``QueryCriteria`` message ``target`` in place (deep trees too)."""
    if isinstance(criteria, oracle.Unset):
        return
    if isinstance(criteria, (oracle.And, oracle.Or)):
        group = target.and_filter if isinstance(criteria, oracle.And) else target.or_filter
        group.SetInParent()
        for item in criteria.items:
            put_criteria(group.filters.add(), item)
    elif isinstance(criteria, oracle.Equals):
        target.equals.field = criteria.field
        target.equals.value.CopyFrom(pack(criteria.value))
    elif isinstance(criteria, oracle.GreaterThan):
        target.greater_than.field = criteria.field
        target.greater_than.value.CopyFrom(pack(criteria.value))
    elif isinstance(criteria, oracle.LessThan):
        target.less_than.field = criteria.field
        target.less_than.value.CopyFrom(pack(criteria.value))
    elif isinstance(criteria, oracle.In):
        target.in_filter.SetInParent()
        target.in_filter.field = criteria.field
        for value in criteria.values:
            target.in_filter.values.add().CopyFrom(pack(value))
    elif isinstance(criteria, oracle.Range):
        target.range.field = criteria.field
        if criteria.low is not None:
            target.range.min_value.CopyFrom(pack(criteria.low))
        if criteria.high is not None:
            target.range.max_value.CopyFrom(pack(criteria.high))
    else:
        target.text_search.SetInParent()
        target.text_search.query = criteria.query
        target.text_search.fields.extend(criteria.fields)
        target.text_search.analyzer = criteria.analyzer


def plain(data: struct_pb2.Struct) -> dict[str, Any]:
    """``Record.data`` as Python, numbers read the way the oracle stores them."""
    result: dict[str, Any] = oracle.as_double(json_format.MessageToDict(data))
    return result


# -- talking to the server -----------------------------------------------------------------------


def new_table() -> str:
    return "prop-" + uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class DocSpec:
    """A document to insert: explicit id, data, and optionally its timestamps."""

    id: str
    data: dict[str, Any]
    created_at: datetime | None = None
    updated_at: datetime | None = None


def to_record(pb: ModuleType, spec: DocSpec) -> Any:
    record = pb.Record(id=spec.id)
    fill_struct(record.data, spec.data)
    if spec.created_at is not None:
        record.created_at.CopyFrom(stamp(spec.created_at))
    if spec.updated_at is not None:
        record.updated_at.CopyFrom(stamp(spec.updated_at))
    return record


def insert_docs(client: Any, pb: ModuleType, table: str, specs: Sequence[DocSpec]) -> list[Doc]:
    """InsertBatch with explicit ids; the oracle's documents, checked against the answer."""
    answer = client.InsertBatch(pb.InsertBatchRequest(table_name=table, records=[to_record(pb, s) for s in specs]))
    assert answer.success, answer.error_message
    assert answer.inserted_count == len(specs)
    docs = []
    for spec, record in zip(specs, answer.records, strict=True):
        data = oracle.stored_data(spec.data)
        assert record.id == spec.id
        assert plain(record.data) == data
        assert record.version == "1"
        doc = Doc(spec.id, data, moment_of(record.created_at), moment_of(record.updated_at), 1)
        assert spec.created_at in (None, doc.created_at)
        assert spec.updated_at in (None, doc.updated_at)
        docs.append(doc)
    return docs


def update_doc(client: Any, pb: ModuleType, table: str, doc: Doc, patch: dict[str, Any]) -> Doc:
    """Update merges top-level keys; the oracle's document after it, checked against the answer."""
    request = pb.UpdateRequest(table_name=table, id=doc.id)
    fill_struct(request.updates, patch)
    answer = client.Update(request)
    assert answer.success, answer.error_message
    updated = replace(
        doc,
        data={**doc.data, **oracle.stored_data(patch)},
        updated_at=moment_of(answer.record.updated_at),
        version=doc.version + 1,
    )
    assert plain(answer.record.data) == updated.data
    assert answer.record.version == str(updated.version)
    assert moment_of(answer.record.created_at) == doc.created_at
    return updated


def raw_request(pb: ModuleType, query: oracle.Query, query_type: int = 0) -> Any:
    request = pb.ExecuteRawQueryRequest()
    spec = request.query_spec
    spec.table_name = query.table_name
    spec.query_type = pb.AGGREGATION if query.aggregation else query_type
    spec.projections.extend(query.projections)
    for item in query.order_by:
        spec.order_by.add(field=item.field, ascending=item.ascending)
    spec.limit = query.limit
    spec.offset = query.offset
    if query.criteria is not None:
        spec.criteria.SetInParent()
        put_criteria(spec.criteria, query.criteria)
    return request


def count(client: Any, pb: ModuleType, table: str) -> int:
    """Every live document of ``table`` (AGGREGATION)."""
    answer = client.ExecuteRawQuery(raw_request(pb, oracle.Query(table, aggregation=True)))
    assert answer.success, answer.error_message
    return int(answer.results[0].data["count"])


def every_id(client: Any, pb: ModuleType, table: str) -> list[str]:
    answer = client.ExecuteRawQuery(raw_request(pb, oracle.Query(table, limit=MAX_PAGE)))
    assert answer.success, answer.error_message
    return [record.id for record in answer.results]


def assert_invalid(answer: Any, why: str = "") -> None:
    assert not answer.success, f"expected INVALID_ARGUMENT ({why}), the call succeeded"
    assert answer.error_message.startswith("INVALID_ARGUMENT:"), (why, answer.error_message)
    assert answer.execution_time_ms >= 1


def remark(text: str) -> None:
    """A note for Hypothesis' failure report (only inside a property)."""
    if currently_in_test_context():
        note(text)


def agree(client: Any, pb: ModuleType, docs: Sequence[Doc], query: oracle.Query, query_type: int = 0) -> str:
    """Server and oracle answer ``query`` alike; returns what happened (for Hypothesis' statistics)."""
    remark(f"query: {query!r}")
    try:
        expected = oracle.run(docs, query)
    except oracle.Invalid as refused:
        assert_invalid(client.ExecuteRawQuery(raw_request(pb, query, query_type)), str(refused))
        return "invalid"
    except oracle.Inexact:
        answer = client.ExecuteRawQuery(raw_request(pb, query, query_type))
        assert answer.success, answer.error_message
        return "inexact"
    answer = client.ExecuteRawQuery(raw_request(pb, query, query_type))
    assert answer.success, answer.error_message
    assert answer.count == len(answer.results)
    if query.aggregation:
        assert [plain(record.data) for record in answer.results] == [{"count": expected.count}]
        assert answer.results[0].id == ""
        return "count"
    found = [(record.id, plain(record.data)) for record in answer.results]
    assert found == expected.records
    by_id = {doc.id: doc for doc in docs}
    for record in answer.results:
        doc = by_id[record.id]
        assert record.version == str(doc.version)
        assert (moment_of(record.created_at), moment_of(record.updated_at)) == (doc.created_at, doc.updated_at)
    return "empty" if not found else "found"


# -- strategies: names, values, documents ----------------------------------------------------------

NOT_SURROGATE = st.characters(codec="utf-8", exclude_characters="\x00")  # no surrogates

#: Keys a field name can address: quotes, backslashes, SQL and format noise, unicode,
#: look-alikes (composed/decomposed é, fullwidth, zero-width space), digit keys.
ODD_KEYS = [
    "a",
    "b",
    "n",
    "x y",
    "it's",
    'say "hi"',
    "a'b\"c",
    "back\\slash",
    "ключ",
    "名前",
    "😀",
    "é",
    "e\u0301",
    "\uff21\uff22",
    "\u200b",
    "tab\there",
    "0",
    "1",
    "01",
    "\u0661",
    "null",
    "true",
    "id",
    "version",
    "created_at",
    "data",
    "%s",
    "$1",
    "{}",
    "--",
    "'; DROP TABLE documents; --",
]
#: Keys no field name can address ("." always separates segments; "" is an empty segment).
UNADDRESSABLE_KEYS = ["a.b", "", "x."]
#: A segment PostgreSQL's ``#>`` would read as an array position although the docs
#: say only all-digit segments do (see test_signed_segment_indexes_arrays_from_the_end).
STRTOL_NUMBER = re.compile(r"[ \t\n\v\f\r]*[+-]?[0-9]+")


def addressable(key: str) -> bool:
    if not key or "." in key or "\x00" in key:
        return False
    return not STRTOL_NUMBER.fullmatch(key) or (key.isascii() and key.isdigit())


KEYS = st.sampled_from(ODD_KEYS) | st.text(NOT_SURROGATE, min_size=1, max_size=5).filter(addressable)
DATA_KEYS = KEYS | st.sampled_from(UNADDRESSABLE_KEYS)
NESTED_KEYS = DATA_KEYS | st.just("_deleted_at")  # reserved at the top level only

INTS = st.integers(-3, 12) | st.sampled_from([2**53, -(2**53), 2**31, -(2**31) - 1, 2**32 + 1, 10**15])
#: Filter-only integers: Int64/UInt64 values beyond a double's exact range stay exact.
BIG_INTS = st.sampled_from([2**53 + 1, 10**18, 2**63 - 1, -(2**63), 2**64 - 1])
FLOATS = st.sampled_from(
    [0.5, -2.5, 0.1, 7.0, -0.0, 1e18, 1e20, 1e-7, 5e-324, 1.7976931348623157e308, -1.5e300, float(2**53 + 2), 1.0000001]
) | st.floats(allow_nan=False, allow_infinity=False)

#: Instants that recur, so that time filters, ISO strings and created_at meet.
MOMENTS = [
    datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC),
    datetime(2024, 3, 1, 12, 0, 0, 1, tzinfo=UTC),
    datetime(2024, 3, 1, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2030, 6, 15, 8, 30, 0, 123456, tzinfo=UTC),
]
EDGE_MOMENTS = [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)]
ANY_MOMENT = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
MOMENT = st.sampled_from(MOMENTS) | ANY_MOMENT
NEAR = st.sampled_from([timedelta(0), timedelta(microseconds=1), -timedelta(microseconds=1), timedelta(hours=1)])
NOT_TIMES = ["12:00:00", "March 1 2024", "2024-02-30", "2024-13-01T00:00:00Z", "not a time", "2024-03-01T12:00"]
ZONES = ["Z", "", "+02:00", "-05:30"]


def shifted(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, or ``moment`` itself where that leaves the datetime range."""
    try:
        return moment + delta
    except OverflowError:
        return moment


@st.composite
def iso_texts(draw: st.DrawFn, moment: datetime | None = None) -> str:
    """An instant written in one of the documented ISO/SQL forms."""
    moment = moment if moment is not None else draw(MOMENT)
    if chance(draw, 6):
        return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    zone = draw(st.sampled_from(ZONES))
    offset = {"+02:00": timedelta(hours=2), "-05:30": -timedelta(hours=5, minutes=30)}.get(zone, timedelta(0))
    local = shifted(moment, offset)
    if local == moment:
        zone = "" if zone == "" else "Z"
    digits = draw(st.sampled_from([0, 3, 6, 9]))
    fraction = (f"{local.microsecond:06d}" + "789")[:digits]
    separator = draw(st.sampled_from("T "))
    return (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}{separator}"
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}{'.' + fraction if fraction else ''}{zone}"
    )


ODD_STRINGS = st.sampled_from(
    [
        "",
        "a",
        "B",
        "é",
        "e\u0301",
        "10",
        "9",
        "O'Reilly",
        'say "hi"',
        "back\\slash",
        "😀",
        "\uff46\uff55\uff4c\uff4c",
        "\u202eRTL",
        "null",
        "true",
        "7",
        "tab\there",
        "line\nbreak",
        "%s",
        "$1",
        "'; DROP TABLE documents; --",
        "\u200b",
        *NOT_TIMES,
    ]
)
STRINGS = ODD_STRINGS | st.text(NOT_SURROGATE, max_size=8) | iso_texts()

WORDS = ["alpha", "beta", "gamma", "delta", "red", "green", "blue", "cat", "dog", "sun"]
SENTENCES = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)
WORD_KEYS = st.sampled_from([*WORDS, "0", "1", "n"])


def json_values(scalars: st.SearchStrategy[Any], keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3),
        max_leaves=6,
    )


ODD_JSON = json_values(st.none() | st.booleans() | INTS | FLOATS | STRINGS, NESTED_KEYS)
#: Text-search worlds: lowercase ASCII words only, so the oracle's tokenizer is exact.
WORD_JSON = json_values(st.none() | st.booleans() | st.integers(-3, 12) | SENTENCES, WORD_KEYS)

ODD_IDS = ["a", "B", "é", "e\u0301", "😀", "it's", 'q"uote', "x" * 255, "10", "9", " lead", "ﬁ"]
IDS = st.sampled_from(ODD_IDS) | st.text(NOT_SURROGATE, min_size=1, max_size=12)
STAMPS = st.none() | st.sampled_from(MOMENTS + EDGE_MOMENTS) | ANY_MOMENT


@dataclass
class World:
    """What one example inserts: its documents and whether they are text-search words."""

    words: bool
    specs: list[DocSpec]
    patches: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


@st.composite
def documents(draw: st.DrawFn, words: bool) -> dict[str, Any]:
    """Data of one document; in odd worlds "t" and "n" often hold times and numbers, so they meet."""
    if words:
        return draw(st.dictionaries(WORD_KEYS, WORD_JSON, max_size=5))
    data: dict[str, Any] = draw(st.dictionaries(DATA_KEYS, ODD_JSON, max_size=4))
    if draw(st.booleans()):
        data["t"] = draw(iso_texts() | ODD_STRINGS | st.none())
    if draw(st.booleans()):
        data["n"] = draw(INTS | FLOATS | st.booleans())
    return data


@st.composite
def worlds(draw: st.DrawFn, max_docs: int = 10) -> World:
    words = draw(st.booleans())
    values, keys = (WORD_JSON, WORD_KEYS) if words else (ODD_JSON, DATA_KEYS)
    n = draw(st.integers(0, max_docs))
    ids = draw(st.lists(IDS, min_size=n, max_size=n, unique=True))
    specs = [DocSpec(doc_id, draw(documents(words)), draw(STAMPS), draw(STAMPS)) for doc_id in ids]
    patches = []
    if n:
        for _ in range(draw(st.integers(0, 2))):
            patches.append((draw(st.integers(0, n - 1)), draw(st.dictionaries(keys, values, max_size=2))))
    return World(words, specs, patches)


def build(client: Any, pb: ModuleType, world: World) -> tuple[str, list[Doc]]:
    table = new_table()
    docs = insert_docs(client, pb, table, world.specs)
    for index, patch in world.patches:
        docs[index] = update_doc(client, pb, table, docs[index], patch)
    return table, docs


# -- strategies: criteria ----------------------------------------------------------------------------


def paths_in(value: Any, prefix: tuple[str, ...] = (), depth: int = 3) -> Iterator[tuple[str, ...]]:
    """Every addressable path of ``value`` (array positions as digit segments)."""
    if depth == 0:
        return
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        items = [(key, item) for key, item in value.items() if addressable(key)]
    elif isinstance(value, list):
        items = [(str(position), item) for position, item in enumerate(value)]
    for key, item in items:
        yield (*prefix, key)
        yield from paths_in(item, (*prefix, key), depth - 1)


def field_name(path: tuple[str, ...], prefixed: bool = False) -> str:
    name = ".".join(path)
    return "data." + name if prefixed or name in oracle.COLUMNS else name


BAD_FIELD_NAMES = ["a..b", "x.", ".x", "data.", "a" * 1025]


@dataclass
class Context:
    """What a query strategy knows about the documents it queries."""

    docs: list[Doc]
    words: bool
    paths: list[tuple[str, ...]]

    @classmethod
    def of(cls, docs: list[Doc], words: bool) -> Context:
        paths = sorted({path for doc in docs for path in paths_in(doc.data)})
        return cls(docs, words, paths)


@st.composite
def field_names(draw: st.DrawFn, ctx: Context) -> str:
    choice = draw(st.integers(0, 39))
    if choice < 12 and ctx.paths:
        top = sorted({path[:1] for path in ctx.paths})  # top-level keys: shared by many documents
        return field_name(draw(st.sampled_from(top)), chance(draw, 5))
    if choice < 24 and ctx.paths:
        return field_name(draw(st.sampled_from(ctx.paths)), chance(draw, 5))
    if choice < 31:
        return field_name(tuple(draw(st.lists(KEYS, min_size=1, max_size=3))), draw(st.booleans()))
    if choice < 39:
        return draw(st.sampled_from(oracle.COLUMNS))
    return draw(st.sampled_from(BAD_FIELD_NAMES))


def chance(draw: st.DrawFn, one_in: int) -> bool:
    """True about once in ``one_in`` draws. Hypothesis favours the smallest value, so the
    rare outcome is a middle one."""
    return draw(st.integers(1, one_in)) == (one_in + 1) // 2


def fits(value: int, low: int, high: int) -> bool:
    return low <= value <= high


@st.composite
def encodings(draw: st.DrawFn, value: Any) -> Value:
    """One of the ways a caller may pack ``value`` into ``Any`` (docs: "Filter values")."""
    if isinstance(value, datetime):
        return Value("timestamp", (stamp(value).seconds, stamp(value).nanos))
    if value is None:
        return Value(draw(st.sampled_from(["value", "value_unset"])), None)
    if isinstance(value, bool):
        return Value(draw(st.sampled_from(["bool", "value"])), value)
    if isinstance(value, str):
        return Value(draw(st.sampled_from(["string", "value"])), value)
    if isinstance(value, list):
        return Value(draw(st.sampled_from(["list", "value"])), value)
    if isinstance(value, dict):
        return Value(draw(st.sampled_from(["struct", "value"])), value)
    wires = ["double", "value"]
    if abs(value) < 3.4e38:
        wires.append("float")
    if isinstance(value, int):
        wires += [
            wire
            for wire, low, high in [
                ("int32", -(2**31), 2**31 - 1),
                ("int64", -(2**63), 2**63 - 1),
                ("uint32", 0, 2**32 - 1),
                ("uint64", 0, 2**64 - 1),
            ]
            if fits(value, low, high)
        ]
    wire = draw(st.sampled_from(wires))
    return Value(wire, float(value) if wire in ("double", "float") else value)


def times_in(value: Any) -> list[datetime]:
    moment = oracle.parse_time_text(value) if isinstance(value, str) else None
    return [moment] if moment is not None else []


@st.composite
def meanings(draw: st.DrawFn, ctx: Context, name: str, scalar: bool) -> Any:
    """A value worth comparing with field ``name``: mostly ones the documents hold there."""
    try:
        target = oracle.parse_field(name)
    except oracle.Invalid:
        target = oracle.Field("id")
    noise = chance(draw, 10)
    if target.column == "id":
        options = [doc.id for doc in ctx.docs]
        if noise or not options:
            return draw(IDS | INTS)
        return draw(st.sampled_from(options))
    if target.column in ("created_at", "updated_at"):
        moments: list[datetime] = [getattr(doc, target.column) for doc in ctx.docs] or MOMENTS
        moment = shifted(draw(st.sampled_from(moments)), draw(NEAR))
        if noise:
            return draw(STRINGS | INTS | st.booleans())
        if draw(st.booleans()) and 1 <= moment.year <= 9999:
            return draw(iso_texts(moment))
        return moment
    if target.column == "version":
        return draw(st.integers(0, 4) | st.sampled_from([1.0, 1.5, 2**63 - 1]) if not noise else STRINGS)
    found = [oracle.value_at(doc.data, target.path) for doc in ctx.docs]
    found = [value for value in found if value is not oracle.MISSING]
    times = [shifted(moment, draw(NEAR)) for value in found for moment in times_in(value)]
    prefer_times: bool = draw(st.booleans())
    if times and prefer_times:
        return draw(st.sampled_from(times))
    if scalar and not chance(draw, 20):
        found = [value for value in found if not isinstance(value, (list, dict)) and value is not None]
    if found and not noise:
        return draw(st.sampled_from(found))
    if ctx.words:
        return draw(SENTENCES | st.integers(-3, 12) | st.booleans() | st.none())
    scalars = st.booleans() | INTS | BIG_INTS | FLOATS | STRINGS | st.sampled_from(MOMENTS)
    return draw(scalars if scalar and not chance(draw, 10) else ODD_JSON)


@st.composite
def values_for(draw: st.DrawFn, ctx: Context, name: str, scalar: bool) -> Value:
    return draw(encodings(draw(meanings(ctx, name, scalar))))


@st.composite
def bounds(draw: st.DrawFn, ctx: Context, name: str) -> Value | None:
    choice = draw(st.integers(0, 9))
    if choice == 4:
        return None
    if choice == 5:
        return Value(draw(st.sampled_from(["value", "value_unset"])), None)  # a null end is open
    return draw(values_for(ctx, name, scalar=True))


@st.composite
def text_searches(draw: st.DrawFn, ctx: Context) -> oracle.TextSearch:
    words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
    query = " ".join(draw(st.sampled_from([word, word.upper(), word.title()])) for word in words)
    fields: list[str] = []
    if draw(st.booleans()):
        fields = draw(st.lists(field_names(ctx).filter(lambda f: f not in oracle.COLUMNS), max_size=2))
    analyzer = draw(st.sampled_from(oracle.SIMPLE_ANALYZERS))
    broken = chance(draw, 20) or not ctx.words  # the oracle's tokenizer needs word data
    if broken:
        kind = draw(st.sampled_from(["blank", "column", "analyzer", "missing_analyzer"]))
        if kind == "blank":
            query = draw(st.sampled_from(["", "   ", "\t\n"]))
        elif kind == "column":
            fields = [*fields, draw(st.sampled_from(oracle.COLUMNS))]
        elif kind == "analyzer":
            analyzer = draw(st.sampled_from(["bad name", "x;y", "1abc", "a.b.c"]))
        else:
            analyzer = oracle.MISSING_ANALYZER
    elif chance(draw, 10):
        query = draw(st.sampled_from(["?!", " , ", f"  {query}  ", f"{query}, {query}!"]))
    return oracle.TextSearch(query, tuple(fields), analyzer)


@st.composite
def criteria(draw: st.DrawFn, ctx: Context, depth: int = 0) -> oracle.Criteria:
    if depth < 3 and chance(draw, 4):
        items = tuple(draw(st.lists(criteria(ctx, depth + 1), max_size=3)))
        return oracle.And(items) if draw(st.booleans()) else oracle.Or(items)
    kind = draw(st.sampled_from(["equals", "equals", "gt", "lt", "in", "range", "text", "unset"]))
    if kind == "text" and not ctx.words and not chance(draw, 5):
        kind = "equals"  # outside word worlds only malformed text searches are generated
    if kind == "unset":
        return oracle.Unset()
    if kind == "text":
        return draw(text_searches(ctx))
    name = draw(field_names(ctx))
    if kind == "equals":
        return oracle.Equals(name, draw(values_for(ctx, name, scalar=False)))
    if kind == "gt":
        return oracle.GreaterThan(name, draw(values_for(ctx, name, scalar=True)))
    if kind == "lt":
        return oracle.LessThan(name, draw(values_for(ctx, name, scalar=True)))
    if kind == "in":
        return oracle.In(name, tuple(draw(st.lists(values_for(ctx, name, scalar=False), max_size=3))))
    return oracle.Range(name, draw(bounds(ctx, name)), draw(bounds(ctx, name)))


QUERY_TYPES = [0, 1, 2, 6, 8]  # POINT_LOOKUP, RANGE_SCAN, FULL_TEXT_SEARCH, TIME_SERIES, DOCUMENT_QUERY


@st.composite
def queries(
    draw: st.DrawFn, table: str, ctx: Context, order_fields: st.SearchStrategy[str] | None = None
) -> oracle.Query:
    n = len(ctx.docs)
    chosen = None if chance(draw, 10) else draw(criteria(ctx))
    order_fields = order_fields if order_fields is not None else field_names(ctx)
    order_by = tuple(oracle.OrderBy(name, draw(st.booleans())) for name in draw(st.lists(order_fields, max_size=3)))
    limit = draw(st.sampled_from([0, 0, MAX_PAGE]) | st.integers(1, n + 2))
    offset = draw(st.just(0) | st.integers(0, n + 1))
    projections = tuple(draw(st.lists(field_names(ctx), max_size=3))) if draw(st.booleans()) else ()
    aggregation = chance(draw, 7)
    return oracle.Query(table, chosen, order_by, limit, offset, projections, aggregation)


# -- the properties --------------------------------------------------------------------------------


@settings(PROPERTY, max_examples=100)
@given(data=st.data())
def test_raw_queries_agree_with_the_oracle(client: Any, pb: ModuleType, data: st.DataObject) -> None:
    """Random criteria, order, page and projections over random documents: as documented."""
    world = data.draw(worlds(), label="world")
    table, docs = build(client, pb, world)
    ctx = Context.of(docs, world.words)
    for _ in range(6):
        query = data.draw(queries(table, ctx), label="query")
        query_type = data.draw(st.sampled_from(QUERY_TYPES), label="query_type")
        event(agree(client, pb, docs, query, query_type))


#: Sort-key values whose order the docs pin down on every database (no [] next to scalars,
#: strings inside containers only lowercase ASCII).
LOWER = st.text(alphabet=string.ascii_lowercase, max_size=3)
ORDER_SCALARS = st.none() | st.booleans() | INTS | FLOATS | ODD_STRINGS | st.text(NOT_SURROGATE, max_size=4)
ORDER_VALUES = (
    ORDER_SCALARS
    | st.lists(st.none() | st.booleans() | st.integers(-2, 3) | LOWER, min_size=1, max_size=3)
    | st.dictionaries(LOWER, st.integers(-2, 3) | st.booleans(), max_size=2)
)
ORDER_FIELDS = ["k", "g", "o.k", "arr.0", "arr.1", "missing", "id", "created_at", "updated_at", "version", "data.g"]
PROJECTIONS = ["k", "o", "o.k", "o.k.z", "arr", "arr.0", "id", "data.g", "missing", "g", "version"]


@st.composite
def order_docs(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if not chance(draw, 6):
        data["k"] = draw(ORDER_VALUES)
    if draw(st.booleans()):
        data["g"] = draw(st.integers(0, 2))
    if draw(st.booleans()):
        data["o"] = draw(ORDER_SCALARS) if chance(draw, 5) else {"k": draw(ORDER_VALUES)}
    if draw(st.booleans()):
        data["arr"] = draw(st.lists(ORDER_VALUES, min_size=1, max_size=2))
    return data


@settings(PROPERTY, max_examples=70)
@given(data=st.data())
def test_order_limit_offset_and_projections_agree_with_the_oracle(
    client: Any, pb: ModuleType, data: st.DataObject
) -> None:
    """Mixed JSON types under the sort keys, ties, pages and projections: exactly as documented."""
    n = data.draw(st.integers(1, 12), label="n")
    ids = data.draw(st.lists(IDS, min_size=n, max_size=n, unique=True), label="ids")
    created = st.none() | st.sampled_from(MOMENTS[:2])  # ties on created_at, broken by id
    specs = [DocSpec(doc_id, data.draw(order_docs()), data.draw(created)) for doc_id in ids]
    table, docs = build(client, pb, World(False, specs))
    ctx = Context.of(docs, False)
    for _ in range(4):
        query = data.draw(queries(table, ctx, st.sampled_from(ORDER_FIELDS)), label="query")
        if data.draw(st.booleans()):
            query = replace(query, projections=tuple(data.draw(st.lists(st.sampled_from(PROJECTIONS), max_size=3))))
        event(agree(client, pb, docs, replace(query, aggregation=False)))


@settings(PROPERTY, max_examples=40)
@given(data=st.data())
def test_delete_removes_exactly_what_the_oracle_matches(client: Any, pb: ModuleType, data: st.DataObject) -> None:
    """Delete runs the same criteria: it removes the oracle's matches and nothing else."""
    world = data.draw(worlds(max_docs=8), label="world")
    table, docs = build(client, pb, world)
    chosen = data.draw(criteria(Context.of(docs, world.words)), label="criteria")
    remark(f"criteria: {chosen!r}")
    request = pb.DeleteRequest(table_name=table)
    request.criteria.SetInParent()
    put_criteria(request.criteria, chosen)
    answer = client.Delete(request)
    try:
        if isinstance(chosen, oracle.Unset):
            raise oracle.Invalid("Delete needs criteria")
        predicate = oracle.compile_criteria(chosen)
    except oracle.Invalid as refused:
        assert_invalid(answer, str(refused))
        assert count(client, pb, table) == len(docs)
        return
    except oracle.Inexact:
        return
    assert answer.success, answer.error_message
    kept = [doc for doc in docs if not predicate(doc)]
    assert answer.deleted_count == len(docs) - len(kept)
    assert every_id(client, pb, table) == [doc.id for doc in oracle.sort(kept, ())]


# -- documented edge cases the properties skip, pinned one by one ---------------------------------------


def one_query(client: Any, pb: ModuleType, specs: Sequence[DocSpec], query: Callable[[str], oracle.Query]) -> None:
    table = new_table()
    docs = insert_docs(client, pb, table, specs)
    assert agree(client, pb, docs, query(table)) in ("found", "empty", "count")


def test_text_search_reads_only_string_values_without_fields(client: Any, pb: ModuleType) -> None:
    specs = [
        DocSpec("1", {"alpha": "beta", "n": [{"cat": "dog sun"}], "t": True}),
        DocSpec("2", {"k": "alpha", "v": 3}),
    ]
    one_query(client, pb, specs, lambda t: oracle.Query(t, oracle.TextSearch("DOG sun")))
    one_query(client, pb, specs, lambda t: oracle.Query(t, oracle.TextSearch("alpha beta")))
    one_query(client, pb, specs, lambda t: oracle.Query(t, oracle.TextSearch("cat", ("n",))))
    one_query(client, pb, specs, lambda t: oracle.Query(t, oracle.TextSearch("true", ("t", "missing"))))


def test_empty_array_sorts_before_null(client: Any, pb: ModuleType) -> None:
    """docs/contract.md: ascending, a top-level [] comes first (PostgreSQL's JSONB order), then null."""
    table = new_table()
    insert_docs(client, pb, table, [DocSpec("a", {"k": []}), DocSpec("b", {"k": None}), DocSpec("c", {"k": 1})])
    answer = client.ExecuteRawQuery(raw_request(pb, oracle.Query(table, order_by=(oracle.OrderBy("k", True),))))
    assert [record.id for record in answer.results] == ["a", "b", "c"]


@pytest.mark.parametrize("segment", ["-1", "+1", " 1"])
def test_signed_segments_select_array_elements(client: Any, pb: ModuleType, segment: str) -> None:
    """docs/contract.md: a segment that reads as an integer selects an array element ('-1' the last)."""
    table = new_table()
    insert_docs(client, pb, table, [DocSpec("a", {"k": [1, 2, 3]})])
    for criteria in (
        oracle.Equals(f"k.{segment}", Value("int64", 3 if segment == "-1" else 2)),
        oracle.GreaterThan(f"k.{segment}", Value("int64", 0)),
    ):
        answer = client.ExecuteRawQuery(raw_request(pb, oracle.Query(table, criteria)))
        assert answer.success and [record.id for record in answer.results] == ["a"]


# -- bad input ------------------------------------------------------------------------------------------


def alive(client: Any, pb: ModuleType) -> None:
    """The server still answers, and its database with it."""
    assert client.HealthCheck(pb.HealthCheckRequest(), timeout=10).healthy


def status_of(call: Callable[[], Any]) -> tuple[grpc.StatusCode | None, Any]:
    """(gRPC status, answer): the status is None when the call returned an answer."""
    try:
        return None, call()
    except grpc.RpcError as failure:
        return failure.code(), failure


def seeded(client: Any, pb: ModuleType, n: int = 2) -> tuple[str, list[Doc]]:
    table = new_table()
    return table, insert_docs(client, pb, table, [DocSpec(f"doc-{i}", {"n": i, "s": "x"}) for i in range(n)])


def nested(levels: int, leaf: oracle.Criteria) -> oracle.Criteria:
    """``levels`` alternating or/and filters around ``leaf``."""
    node = leaf
    for level in range(levels):
        node = oracle.And((node,)) if level % 2 else oracle.Or((node,))
    return node


def test_nesting_up_to_the_parser_limit_agrees_with_the_oracle(client: Any, pb: ModuleType) -> None:
    table = new_table()
    docs = insert_docs(client, pb, table, [DocSpec("a", {"n": 1}), DocSpec("b", {"n": 2.5, "s": "é"})])
    for levels in (PARSER_DEPTH - 1, PARSER_DEPTH):
        for leaf in (
            oracle.Equals("n", Value("int64", 1)),
            oracle.Range("n", Value("double", 2.0), Value("value", None)),
            oracle.In("s", (Value("string", "é"), Value("value", None))),
            oracle.Unset(),
            oracle.Or(),
        ):
            assert agree(client, pb, docs, oracle.Query(table, nested(levels, leaf))) in ("found", "empty")


def delete_request(pb: ModuleType, table: str, criteria: oracle.Criteria) -> Any:
    request = pb.DeleteRequest(table_name=table)
    request.criteria.SetInParent()
    put_criteria(request.criteria, criteria)  # in place: constructors copy by parsing, which refuses deep trees
    return request


def refused_unparsed(call: Callable[[], Any]) -> None:
    """Docs: a request the server cannot parse gets UNKNOWN before any handler runs
    (INVALID_ARGUMENT would do as well)."""
    code, answer = status_of(call)
    if code is None:
        assert_invalid(answer)
    else:
        assert code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INVALID_ARGUMENT), code


def test_delete_nested_up_to_the_parser_limit_agrees_with_the_oracle(client: Any, pb: ModuleType) -> None:
    table, docs = seeded(client, pb, 3)
    criteria = nested(PARSER_DEPTH, oracle.Equals("n", Value("int64", 1)))
    answer = client.Delete(delete_request(pb, table, criteria))
    assert answer.success, answer.error_message
    predicate = oracle.compile_criteria(criteria)
    assert answer.deleted_count == 1
    assert every_id(client, pb, table) == [doc.id for doc in docs if not predicate(doc)]


@pytest.mark.parametrize("levels", [PARSER_DEPTH + 1, 64, 65, 300])
def test_nesting_beyond_the_parser_limit_fails_without_harm(client: Any, pb: ModuleType, levels: int) -> None:
    """Too deep to parse: refused before any handler runs, nothing read or deleted, server fine."""
    table, docs = seeded(client, pb)
    deep = nested(levels, oracle.Equals("n", Value("int64", 1)))
    refused_unparsed(lambda: client.ExecuteRawQuery(raw_request(pb, oracle.Query(table, deep))))
    refused_unparsed(lambda: client.Delete(delete_request(pb, table, deep)))
    assert agree(client, pb, docs, oracle.Query(table)) == "found"
    alive(client, pb)


def deep_data(levels: int) -> dict[str, Any]:
    data: dict[str, Any] = {"leaf": 1}
    for _ in range(levels):
        data = {"k": data}
    return data


def test_deep_data_is_stored_or_refused_whole(client: Any, pb: ModuleType) -> None:
    table = new_table()
    docs = insert_docs(client, pb, table, [DocSpec("ok", deep_data(30))])
    path = ".".join(["k"] * 30 + ["leaf"])
    assert agree(client, pb, docs, oracle.Query(table, oracle.Equals(path, Value("int32", 1)))) == "found"
    for method, request in [
        ("Insert", pb.InsertRequest(table_name=table)),
        ("Update", pb.UpdateRequest(table_name=table, id="ok")),
    ]:
        if method == "Insert":
            request.record.id = "deep"
            fill_struct(request.record.data, deep_data(200))  # in place, as above
        else:
            fill_struct(request.updates, deep_data(200))
        refused_unparsed(functools.partial(getattr(client, method), request))
    assert agree(client, pb, docs, oracle.Query(table)) == "found"
    alive(client, pb)


def test_page_limits(client: Any, pb: ModuleType) -> None:
    table, docs = seeded(client, pb, 3)
    for aggregation in (False, True):
        for limit, offset in [(MAX_PAGE, 0), (0, 0), (1, 2), (MAX_PAGE, 10**9)]:
            query = oracle.Query(table, limit=limit, offset=offset, aggregation=aggregation)
            assert agree(client, pb, docs, query) in ("found", "empty", "count")
        for limit, offset in [(MAX_PAGE + 1, 0), (-1, 0), (2**31 - 1, 0), (-(2**31), 0), (0, -1), (1, -(2**31))]:
            query = oracle.Query(table, limit=limit, offset=offset, aggregation=aggregation)
            assert agree(client, pb, docs, query) == "invalid"


def test_batch_limits(client: Any, pb: ModuleType) -> None:
    table = new_table()
    too_many = [
        pb.Record(data=struct_pb2.Struct(fields={"i": struct_pb2.Value(number_value=i)})) for i in range(MAX_BATCH + 1)
    ]
    assert_invalid(client.InsertBatch(pb.InsertBatchRequest(table_name=table, records=too_many)))
    assert count(client, pb, table) == 0
    answer = client.InsertBatch(pb.InsertBatchRequest(table_name=table, records=too_many[:MAX_BATCH]))
    assert answer.success, answer.error_message
    assert answer.inserted_count == MAX_BATCH and len({record.id for record in answer.records}) == MAX_BATCH
    assert count(client, pb, table) == MAX_BATCH


@pytest.fixture(scope="module")
def roomy(server: ServerProcess, contract: tuple[ModuleType, ModuleType]) -> Iterator[Any]:
    """A client that sends and receives up to 64 MiB, so only the server's limit applies."""
    options = [("grpc.max_send_message_length", 64 * MiB), ("grpc.max_receive_message_length", 64 * MiB)]
    with grpc.insecure_channel(server.address, options=options) as channel:
        yield contract[1].PersistencePlatformServiceStub(checked(channel))


def test_oversized_requests_are_refused_and_store_nothing(roomy: Any, client: Any, pb: ModuleType) -> None:
    table, docs = seeded(client, pb)
    big = "x" * (MAX_MESSAGE + 1)
    requests: list[tuple[str, Any]] = [
        ("Insert", pb.InsertRequest(table_name=table, record=to_record(pb, DocSpec("big", {"s": big})))),
        (
            "InsertBatch",
            pb.InsertBatchRequest(
                table_name=table, records=[to_record(pb, DocSpec(f"b{i}", {"s": "y" * MiB})) for i in range(17)]
            ),
        ),
        (
            "Update",
            pb.UpdateRequest(
                table_name=table,
                id=docs[0].id,
                updates=struct_pb2.Struct(fields={"s": struct_pb2.Value(string_value=big)}),
            ),
        ),
        ("ExecuteRawQuery", raw_request(pb, oracle.Query(table, oracle.Equals("s", Value("string", big))))),
    ]
    for method, request in requests:
        code, _ = status_of(functools.partial(getattr(roomy, method), request))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, method
    assert every_id(client, pb, table) == [doc.id for doc in docs]
    assert agree(client, pb, docs, oracle.Query(table)) == "found"  # not updated either
    alive(client, pb)


def test_an_answer_over_the_limit_fails_and_smaller_pages_work(roomy: Any, client: Any, pb: ModuleType) -> None:
    table = new_table()
    chunk = "z" * (6 * MiB)
    for i in range(3):
        answer = roomy.Insert(pb.InsertRequest(table_name=table, record=to_record(pb, DocSpec(f"d{i}", {"s": chunk}))))
        assert answer.success, answer.error_message
    code, _ = status_of(lambda: roomy.ExecuteRawQuery(raw_request(pb, oracle.Query(table))))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    answer = roomy.ExecuteRawQuery(raw_request(pb, oracle.Query(table, limit=2)))
    assert answer.success and [record.id for record in answer.results] == ["d0", "d1"]
    assert count(client, pb, table) == 3
    alive(client, pb)


# NaN, ±Infinity and NUL, anywhere a value goes.

POISON_LEAVES = st.sampled_from([math.nan, math.inf, -math.inf, "\x00", "a\x00", "\x00b"])
NUL_KEYS = st.sampled_from(["\x00", "k\x00", "\x00k"])
GOOD_JSON = json_values(st.none() | st.booleans() | st.integers(-3, 3) | ODD_STRINGS, KEYS)


@st.composite
def poisoned(draw: st.DrawFn, container: str | None = None, depth: int = 0) -> Any:
    """A JSON value with NaN, ±Infinity or NUL (in a string or key) somewhere inside."""
    shape = container or draw(st.sampled_from(["leaf", "object", "key", "array"] if depth < 3 else ["leaf"]))
    if shape == "leaf":
        return draw(POISON_LEAVES)
    if shape == "array":
        before, after = draw(st.lists(GOOD_JSON, max_size=2)), draw(st.lists(GOOD_JSON, max_size=2))
        return [*before, draw(poisoned(depth=depth + 1)), *after]
    good = draw(st.dictionaries(KEYS, GOOD_JSON, max_size=2))
    if shape == "key" and (draw(st.booleans()) or depth == 0):
        return {**good, draw(NUL_KEYS): draw(GOOD_JSON)}
    return {**good, draw(KEYS): draw(poisoned(depth=depth + 1))}


POISONED_OBJECTS = st.sampled_from(["object", "key"]).flatmap(lambda shape: poisoned(shape))


@st.composite
def poisoned_values(draw: st.DrawFn) -> Value:
    wire = draw(st.sampled_from(["double", "float", "value", "list", "struct", "string"]))
    if wire in ("double", "float"):
        return Value(wire, draw(st.sampled_from([math.nan, math.inf, -math.inf])))
    if wire == "string":
        return Value(wire, draw(st.sampled_from(["\x00", "a\x00", "2024-03-01\x00"])))
    if wire == "list":
        return Value(wire, draw(poisoned("array")))
    if wire == "struct":
        return Value(wire, draw(POISONED_OBJECTS))
    return Value(wire, draw(poisoned()))


@st.composite
def poisoned_criteria(draw: st.DrawFn) -> oracle.Criteria:
    """A poisoned value in any filter kind, nested in and/or, on data paths (columns have their
    own test below)."""
    name = draw(st.sampled_from(["n", "s", "a.b", "data.id", "0", "ключ"]))
    bad = draw(poisoned_values())
    good = Value("int32", 1)
    kind = draw(st.sampled_from(["equals", "gt", "lt", "in", "low", "high"]))
    leaf: oracle.Criteria
    if kind == "equals":
        leaf = oracle.Equals(name, bad)
    elif kind == "gt":
        leaf = oracle.GreaterThan(name, bad)
    elif kind == "lt":
        leaf = oracle.LessThan(name, bad)
    elif kind == "in":
        leaf = oracle.In(name, (good, bad) if draw(st.booleans()) else (bad,))
    else:
        leaf = oracle.Range(name, bad, good) if kind == "low" else oracle.Range(name, good, bad)
    for _ in range(draw(st.integers(0, 3))):
        siblings: list[oracle.Criteria] = [oracle.Equals("n", good), oracle.Unset()]
        leaf = (oracle.And if draw(st.booleans()) else oracle.Or)((*siblings, leaf))
    return leaf


@settings(PROPERTY, max_examples=60)
@given(data=st.data())
def test_nan_infinity_and_nul_are_refused_anywhere_and_store_nothing(
    client: Any, pb: ModuleType, data: st.DataObject
) -> None:
    table, docs = seeded(client, pb)
    place = data.draw(st.sampled_from(["insert", "batch", "update", "query", "count", "delete"]), label="place")
    answer: Any
    if place == "insert":
        spec = DocSpec(data.draw(st.just("") | IDS, label="id"), data.draw(POISONED_OBJECTS, label="data"))
        answer = client.Insert(pb.InsertRequest(table_name=table, record=to_record(pb, spec)))
    elif place == "batch":
        records = [to_record(pb, DocSpec(f"new-{i}", {"i": i})) for i in range(3)]
        records.insert(data.draw(st.integers(0, 3)), to_record(pb, DocSpec("bad", data.draw(POISONED_OBJECTS))))
        answer = client.InsertBatch(pb.InsertBatchRequest(table_name=table, records=records))
    elif place == "update":
        request = pb.UpdateRequest(table_name=table, id=docs[0].id)
        fill_struct(request.updates, data.draw(POISONED_OBJECTS, label="updates"))
        answer = client.Update(request)
    else:
        chosen = data.draw(poisoned_criteria(), label="criteria")
        remark(f"criteria: {chosen!r}")
        if place == "delete":
            request = pb.DeleteRequest(table_name=table)
            request.criteria.SetInParent()
            put_criteria(request.criteria, chosen)
            answer = client.Delete(request)
        else:
            answer = client.ExecuteRawQuery(raw_request(pb, oracle.Query(table, chosen, aggregation=place == "count")))
    assert_invalid(answer, place)
    assert agree(client, pb, docs, oracle.Query(table)) == "found"  # same documents, same data, same versions


@pytest.mark.parametrize("column", ["id", "version", "created_at", "updated_at"])
@pytest.mark.parametrize(
    "bad",
    [
        Value("list", [math.nan]),
        Value("struct", {"k": math.inf}),
        Value("value", [1, {"k\x00": 1}]),
        Value("list", ["a\x00"]),
    ],
    ids=["list-nan", "struct-inf", "nul-key", "list-nul"],
)
def test_nan_and_nul_inside_a_filter_value_are_refused_on_columns(
    client: Any, pb: ModuleType, column: str, bad: Value
) -> None:
    table, docs = seeded(client, pb)
    assert agree(client, pb, docs, oracle.Query(table, oracle.Equals(column, bad))) == "invalid"


@pytest.mark.parametrize(
    "column",
    ["id", "version", "created_at", "updated_at"],
)
def test_a_nul_string_filter_value_is_refused_on_columns(client: Any, pb: ModuleType, column: str) -> None:
    table, docs = seeded(client, pb)
    for value in ("\x00", "2024-03-01\x00"):
        assert agree(client, pb, docs, oracle.Query(table, oracle.Equals(column, Value("string", value)))) == "invalid"


def test_time_strings_in_data_compare_as_instants(client: Any, pb: ModuleType) -> None:
    """Every documented ISO/SQL form (T or space, 0-9 fraction digits, Z/offset/none, date
    alone) and strings that are no time, against Timestamp filters around each instant."""
    texts = [
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}{sep}{moment.hour:02d}:{moment.minute:02d}:"
        f"{moment.second:02d}{'.' if digits else ''}{(f'{moment.microsecond:06d}789')[:digits]}{zone}"
        for moment in MOMENTS
        for sep in "T "
        for digits in (0, 3, 6, 9)
        for zone in ("Z", "", "+00:00")
    ]
    texts += [f"{m.year:04d}-{m.month:02d}-{m.day:02d}" for m in MOMENTS] + NOT_TIMES
    texts += ["2024-03-01T14:00:00+02:00", "2024-03-01T06:30:00-05:30"]
    table = new_table()
    specs = [DocSpec(f"d{i:03d}", {"t": text, "n": [text]}) for i, text in enumerate(texts)]
    docs = insert_docs(client, pb, table, specs)
    outcomes = set()
    for moment in MOMENTS:
        for delta in (timedelta(0), timedelta(microseconds=1), -timedelta(microseconds=1)):
            value = Value("timestamp", (stamp(moment + delta).seconds, stamp(moment + delta).nanos))
            for chosen in (
                oracle.Equals("t", value),
                oracle.GreaterThan("t", value),
                oracle.LessThan("data.t", value),
                oracle.Range("n.0", value, value),
                oracle.In("t", (value, Value("string", "not a time"))),
            ):
                outcomes.add(agree(client, pb, docs, oracle.Query(table, chosen)))
    assert outcomes == {"found", "empty"}


# Names, ids, timestamps and values that are malformed.

NAME_256 = "t" * 256


@pytest.mark.parametrize("name", ["", NAME_256, "\x00", "tab\x00le"], ids=["empty", "256", "nul", "inner-nul"])
def test_bad_table_names_are_refused_by_every_rpc(client: Any, pb: ModuleType, name: str) -> None:
    _, docs = seeded(client, pb, 1)
    delete = pb.DeleteRequest(table_name=name)
    put_criteria(delete.criteria, oracle.And())
    calls: list[Callable[[], Any]] = [
        lambda: client.Insert(pb.InsertRequest(table_name=name, record=to_record(pb, DocSpec("x", {})))),
        lambda: client.InsertBatch(pb.InsertBatchRequest(table_name=name, records=[])),
        lambda: client.InsertBatch(pb.InsertBatchRequest(table_name=name, records=[to_record(pb, DocSpec("x", {}))])),
        lambda: client.Update(pb.UpdateRequest(table_name=name, id=docs[0].id)),
        lambda: client.Delete(delete),
        lambda: client.ExecuteRawQuery(raw_request(pb, oracle.Query(name))),
        lambda: client.ExecuteRawQuery(raw_request(pb, oracle.Query(name, aggregation=True))),
    ]
    for call in calls:
        assert_invalid(call(), repr(name))
    alive(client, pb)


def test_longest_names_and_ids_work(client: Any, pb: ModuleType) -> None:
    table = "t" * (254 - len(new_table())) + new_table() + "😀"  # 255 characters, unique per run
    assert len(table) == 255
    docs = insert_docs(client, pb, table, [DocSpec("i" * 254 + "é", {"k": 1})])
    assert agree(client, pb, docs, oracle.Query(table, oracle.Equals("id", Value("string", docs[0].id)))) == "found"
    updated = update_doc(client, pb, table, docs[0], {"k": 2})
    assert updated.version == 2
    missing = client.Update(pb.UpdateRequest(table_name=table, id="m" * 255))
    assert missing.error_message.startswith("NOT_FOUND:")


@pytest.mark.parametrize("bad_id", ["i" * 256, "\x00", "id\x00"], ids=["256", "nul", "inner-nul"])
def test_bad_ids_are_refused_and_store_nothing(client: Any, pb: ModuleType, bad_id: str) -> None:
    table, docs = seeded(client, pb)
    assert_invalid(client.Insert(pb.InsertRequest(table_name=table, record=to_record(pb, DocSpec(bad_id, {})))))
    records = [to_record(pb, DocSpec("fine", {})), to_record(pb, DocSpec(bad_id, {}))]
    assert_invalid(client.InsertBatch(pb.InsertBatchRequest(table_name=table, records=records)))
    assert_invalid(client.Update(pb.UpdateRequest(table_name=table, id=bad_id)))
    if "\x00" in bad_id:  # a NUL id in a filter is refused; a long one simply matches nothing
        assert agree(client, pb, docs, oracle.Query(table, oracle.Equals("id", Value("string", bad_id)))) == "invalid"
    assert agree(client, pb, docs, oracle.Query(table)) == "found"


def test_update_with_an_empty_id_is_refused(client: Any, pb: ModuleType) -> None:
    table, docs = seeded(client, pb)
    request = pb.UpdateRequest(table_name=table, id="")
    fill_struct(request.updates, {"n": 9})
    assert_invalid(client.Update(request))
    assert agree(client, pb, docs, oracle.Query(table)) == "found"


def test_duplicate_ids_in_a_batch_store_nothing(client: Any, pb: ModuleType) -> None:
    table, docs = seeded(client, pb)
    records = [
        to_record(pb, DocSpec("same", {})),
        to_record(pb, DocSpec("other", {})),
        to_record(pb, DocSpec("same", {})),
    ]
    assert_invalid(client.InsertBatch(pb.InsertBatchRequest(table_name=table, records=records)))
    assert agree(client, pb, docs, oracle.Query(table)) == "found"


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [(oracle.LAST_SECOND + 1, 0), (oracle.FIRST_SECOND - 1, 0), (0, -1), (0, 1_000_000_000), (2**62, 0)],
    ids=["year-10000", "year-0", "nanos-negative", "nanos-1e9", "huge"],
)
def test_timestamps_out_of_range_are_refused(client: Any, pb: ModuleType, seconds: int, nanos: int) -> None:
    table, docs = seeded(client, pb)
    for name in ("created_at", "updated_at"):
        record = to_record(pb, DocSpec("t", {}))
        getattr(record, name).CopyFrom(timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos))
        assert_invalid(client.Insert(pb.InsertRequest(table_name=table, record=record)), name)
    bad = Value("timestamp", (seconds, nanos))
    for name in ("created_at", "when", "id"):
        for chosen in (oracle.Equals(name, bad), oracle.GreaterThan(name, bad), oracle.Range(name, None, bad)):
            assert agree(client, pb, docs, oracle.Query(table, chosen)) == "invalid"
    assert agree(client, pb, docs, oracle.Query(table)) == "found"


def test_bad_field_names_are_refused_everywhere(client: Any, pb: ModuleType) -> None:
    table, docs = seeded(client, pb)
    one = Value("int32", 1)
    for name in [*BAD_FIELD_NAMES, "", "\x00", "a\x00b", "data.\x00"]:
        for query in (
            oracle.Query(table, oracle.Equals(name, one)),
            oracle.Query(table, oracle.In(name, ())),
            oracle.Query(table, oracle.Range(name, one, None)),
            oracle.Query(table, oracle.TextSearch("x", (name,))),
            oracle.Query(table, order_by=(oracle.OrderBy(name),)),
            oracle.Query(table, projections=(name,)),
            oracle.Query(table, projections=(name,), aggregation=True),
        ):
            assert agree(client, pb, docs, query) == "invalid", (name, query)
    longest = "a" * oracle.MAX_FIELD_LENGTH
    assert agree(client, pb, docs, oracle.Query(table, oracle.Equals(longest, one))) == "empty"


def packed_raw(type_url: str, payload: bytes) -> any_pb2.Any:
    return any_pb2.Any(type_url=type_url, value=payload)


@pytest.mark.parametrize(
    "value",
    [
        any_pb2.Any(),
        packed_raw(
            "type.googleapis.com/google.protobuf.Duration", duration_pb2.Duration(seconds=1).SerializeToString()
        ),
        packed_raw("type.googleapis.com/google.protobuf.StringValue", b"\xff\xff\xff"),
        packed_raw("type.googleapis.com/google.protobuf.Struct", b"\x0a\x05"),
        packed_raw("type.googleapis.com/no.such.Type", b""),
        packed_raw("type.googleapis.com/google.protobuf.StringValue", b"\x0a\x02\xc3\x28"),
    ],
    ids=["unset", "duration", "garbage", "truncated", "unknown-type", "bad-utf8"],
)
def test_undecodable_filter_values_are_refused(client: Any, pb: ModuleType, value: any_pb2.Any) -> None:
    table, _ = seeded(client, pb)
    request = raw_request(pb, oracle.Query(table))
    request.query_spec.criteria.equals.field = "n"
    request.query_spec.criteria.equals.value.CopyFrom(value)
    code, answer = status_of(lambda: client.ExecuteRawQuery(request))
    assert code is None, f"gRPC status {code} for a well-formed request"
    assert_invalid(answer)


def test_unknown_query_type_and_bad_expected_version_are_refused(client: Any, pb: ModuleType) -> None:
    table, docs = seeded(client, pb)
    assert_invalid(client.ExecuteRawQuery(raw_request(pb, oracle.Query(table), query_type=99)))
    for expected in (math.nan, math.inf, -math.inf, 0, 1.5, "1\x00", True, None, "x"):
        request = pb.UpdateRequest(table_name=table, id=docs[0].id)
        fill_struct(request.updates, {"n": 9})
        fill_value(request.context.metadata.fields["expected_version"], expected)
        assert_invalid(client.Update(request), repr(expected))
    assert agree(client, pb, docs, oracle.Query(table)) == "found"
    alive(client, pb)
