"""``ExecuteRawQuery(QuerySpec)`` through a client compiled from the original contract.

Every test talks to the real server over gRPC, on the real database, in a
collection of its own. Filter values travel as ``google.protobuf.Any`` packing
the well-known wrappers, ``Value``/``ListValue``/``Struct`` or ``Timestamp``,
exactly as the old platform's callers send them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from types import ModuleType
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2, json_format, struct_pb2, timestamp_pb2, wrappers_pb2
from google.protobuf.message import Message

from server.store import DocumentStore

#: Words an error answer may never show: internals belong in the server log.
LEAKS = ("Traceback", "psycopg", "SELECT")

# -- filter values ----------------------------------------------------------------------


def pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def string(value: str) -> any_pb2.Any:
    return pack(wrappers_pb2.StringValue(value=value))


def boolean(value: bool) -> any_pb2.Any:
    return pack(wrappers_pb2.BoolValue(value=value))


def int32(value: int) -> any_pb2.Any:
    return pack(wrappers_pb2.Int32Value(value=value))


def int64(value: int) -> any_pb2.Any:
    return pack(wrappers_pb2.Int64Value(value=value))


def uint32(value: int) -> any_pb2.Any:
    return pack(wrappers_pb2.UInt32Value(value=value))


def uint64(value: int) -> any_pb2.Any:
    return pack(wrappers_pb2.UInt64Value(value=value))


def float32(value: float) -> any_pb2.Any:
    return pack(wrappers_pb2.FloatValue(value=value))


def double(value: float) -> any_pb2.Any:
    return pack(wrappers_pb2.DoubleValue(value=value))


def json_value(value: Any) -> any_pb2.Any:
    """A ``google.protobuf.Value`` holding any JSON value."""
    message = struct_pb2.Value()
    json_format.ParseDict(value, message)
    return pack(message)


def json_list(items: Sequence[Any]) -> any_pb2.Any:
    message = struct_pb2.ListValue()
    message.extend(items)
    return pack(message)


def json_object(fields: Mapping[str, Any]) -> any_pb2.Any:
    message = struct_pb2.Struct()
    message.update(fields)
    return pack(message)


def moment(value: datetime) -> any_pb2.Any:
    return pack(timestamp_of(value))


def timestamp_of(value: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


#: One value for the number 7 in every numeric encoding a caller may use.
SEVENS: dict[str, any_pb2.Any] = {
    "Int32Value": int32(7),
    "Int64Value": int64(7),
    "UInt32Value": uint32(7),
    "UInt64Value": uint64(7),
    "FloatValue": float32(7.0),
    "DoubleValue": double(7.0),
    "Value": json_value(7),
}


# -- the client side ----------------------------------------------------------------------


@dataclass
class Api:
    """The contract's query surface for one collection, plus builders for its messages."""

    client: Any
    pb: ModuleType
    collection: str

    # writes

    def insert(self, *datas: Mapping[str, Any], **record: Any) -> list[Any]:
        """InsertBatch one record per mapping (one statement: they share created_at)."""
        records = []
        for data in datas:
            message = self.pb.Record(**record)
            message.data.update(data)
            records.append(message)
        answer = self.client.InsertBatch(self.pb.InsertBatchRequest(table_name=self.collection, records=records))
        assert answer.success, answer.error_message
        return list(answer.records)

    def insert_one(self, data: Mapping[str, Any], **record: Any) -> Any:
        message = self.pb.Record(**record)
        message.data.update(data)
        answer = self.client.Insert(self.pb.InsertRequest(table_name=self.collection, record=message))
        assert answer.success, answer.error_message
        return answer.record

    # reads

    def raw(self, criteria: Any = None, **spec: Any) -> Any:
        """The ExecuteRawQuery answer, whatever it says."""
        spec.setdefault("table_name", self.collection)
        request = self.pb.ExecuteRawQueryRequest()
        request.query_spec.MergeFrom(self.pb.QuerySpec(**spec))
        if criteria is not None:
            # Copied in place: constructors copy by parsing, which refuses deep trees.
            request.query_spec.criteria.CopyFrom(criteria)
        return self.client.ExecuteRawQuery(request)

    def find(self, criteria: Any = None, **spec: Any) -> list[Any]:
        answer = self.raw(criteria, **spec)
        assert answer.success, answer.error_message
        assert answer.count == len(answer.results)
        assert answer.execution_time_ms >= 1
        return list(answer.results)

    def ids(self, criteria: Any = None, **spec: Any) -> list[str]:
        return [record.id for record in self.find(criteria, **spec)]

    def values(self, key: str, criteria: Any = None, **spec: Any) -> list[Any]:
        """``data[key]`` of each result, in answer order."""
        return [data_of(record).get(key) for record in self.find(criteria, **spec)]

    def error(self, criteria: Any = None, *, code: str, **spec: Any) -> str:
        return assert_error(self.raw(criteria, **spec), code)

    # criteria

    def criteria(self, **kind: Any) -> Any:
        return self.pb.QueryCriteria(**kind)

    def eq(self, field: str, value: any_pb2.Any) -> Any:
        return self.criteria(equals=self.pb.EqualsFilter(field=field, value=value))

    def gt(self, field: str, value: any_pb2.Any) -> Any:
        return self.criteria(greater_than=self.pb.GreaterThanFilter(field=field, value=value))

    def lt(self, field: str, value: any_pb2.Any) -> Any:
        return self.criteria(less_than=self.pb.LessThanFilter(field=field, value=value))

    def between(self, field: str, low: any_pb2.Any | None = None, high: any_pb2.Any | None = None) -> Any:
        return self.criteria(range=self.pb.RangeFilter(field=field, min_value=low, max_value=high))

    def one_of(self, field: str, values: Iterable[any_pb2.Any]) -> Any:
        return self.criteria(in_filter=self.pb.InFilter(field=field, values=list(values)))

    def text(self, query: str, fields: Sequence[str] = (), analyzer: str = "") -> Any:
        return self.criteria(text_search=self.pb.TextSearchFilter(query=query, fields=list(fields), analyzer=analyzer))

    def all_of(self, *items: Any) -> Any:
        return self.criteria(and_filter=self.pb.AndFilter(filters=list(items)))

    def any_of(self, *items: Any) -> Any:
        return self.criteria(or_filter=self.pb.OrFilter(filters=list(items)))

    def order(self, field: str, ascending: bool | None = None) -> Any:
        """An OrderBy; leaving ``ascending`` out sends the proto3 default (false)."""
        return self.pb.OrderBy(field=field) if ascending is None else self.pb.OrderBy(field=field, ascending=ascending)


def data_of(record: Any) -> dict[str, Any]:
    return json_format.MessageToDict(record.data)


def assert_error(answer: Any, code: str) -> str:
    """An error answer in the contract's way: success=false, code word first, no internals."""
    message: str = answer.error_message
    assert answer.success is False
    assert message.startswith(f"{code}:"), message
    assert not any(leak in message for leak in LEAKS), message
    assert len(answer.results) == 0 and answer.count == 0
    assert answer.execution_time_ms >= 1
    return message


@pytest.fixture
def api(client: Any, pb: ModuleType, collection: str) -> Api:
    return Api(client, pb, collection)


def by_name(api: Api, *names: str) -> dict[str, str]:
    """Insert one document ``{"name": n}`` per name; name → id."""
    return {data_of(r)["name"]: r.id for r in api.insert(*({"name": n} for n in names))}


# -- criteria unset, field addressing ------------------------------------------------------


def test_no_criteria_returns_every_document_of_the_collection_only(api: Api) -> None:
    inserted = {r.id for r in api.insert({"n": 1}, {"n": 2}, {"n": 3})}
    Api(api.client, api.pb, api.collection + "-other").insert({"n": 4})

    assert set(api.ids()) == inserted
    assert set(api.ids(api.criteria())) == inserted  # criteria present but empty: also everything


def test_unknown_collection_is_an_empty_answer(api: Api) -> None:
    assert api.find() == []


def test_dot_path_reaches_nested_keys(api: Api) -> None:
    paris, _ = api.insert({"profile": {"city": "Paris"}}, {"profile": {"city": "Rome"}})

    assert api.ids(api.eq("profile.city", string("Paris"))) == [paris.id]
    assert api.ids(api.eq("profile.missing", string("Paris"))) == []


def test_id_is_the_record_column_and_data_id_the_data_key(api: Api) -> None:
    record = api.insert_one({"id": "inner"}, id="outer")

    assert api.ids(api.eq("id", string("outer"))) == [record.id]
    assert api.ids(api.eq("id", string("inner"))) == []
    assert api.ids(api.eq("data.id", string("inner"))) == [record.id]
    assert api.ids(api.eq("data.id", string("outer"))) == []


def test_version_is_the_record_column(api: Api) -> None:
    first, second = api.insert({"version": "data"}, {"version": "data"})
    answer = api.client.Update(
        api.pb.UpdateRequest(table_name=api.collection, id=second.id, updates=struct_pb2.Struct())
    )
    assert answer.success and answer.record.version == "2"

    assert api.ids(api.eq("version", int64(1))) == [first.id]
    assert api.ids(api.gt("version", int32(1))) == [second.id]
    assert api.ids(api.eq("version", string("1"))) == []  # the column is a number
    assert len(api.ids(api.eq("data.version", string("data")))) == 2


# -- equals: JSON equality ----------------------------------------------------------------


@pytest.mark.parametrize("value", SEVENS.values(), ids=SEVENS.keys())
def test_equals_number_matches_any_numeric_encoding(api: Api, value: any_pb2.Any) -> None:
    # Struct numbers are doubles: the stored document is {"n": 7.0} on the wire.
    seven, _, _ = api.insert({"n": 7.0}, {"n": 7.5}, {"n": "7"})

    assert api.ids(api.eq("n", value)) == [seven.id]


def test_equals_double_matches_an_integer_stored_by_the_library(api: Api, shared_store: DocumentStore) -> None:
    (stored,) = shared_store.create_many(api.collection, [{"n": 7}])

    assert api.ids(api.eq("n", double(7.0))) == [stored.id]
    assert api.ids(api.eq("n", float32(7.0))) == [stored.id]


@pytest.mark.parametrize("value", [double(2.5), float32(2.5), json_value(2.5)], ids=["double", "float", "Value"])
def test_equals_fractional_number(api: Api, value: any_pb2.Any) -> None:
    half, _ = api.insert({"n": 2.5}, {"n": 2})

    assert api.ids(api.eq("n", value)) == [half.id]


def test_equals_large_integers_exactly(api: Api, shared_store: DocumentStore) -> None:
    big, bigger = shared_store.create_many(api.collection, [{"n": 2**60}, {"n": 2**60 + 1}])

    assert api.ids(api.eq("n", int64(2**60 + 1))) == [bigger.id]
    assert api.ids(api.eq("n", uint64(2**60))) == [big.id]


def test_string_and_number_are_never_equal(api: Api) -> None:
    number, text = api.insert({"n": 7}, {"n": "7"})

    assert api.ids(api.eq("n", string("7"))) == [text.id]
    assert api.ids(api.eq("n", int64(7))) == [number.id]


def test_equals_boolean(api: Api) -> None:
    yes, _, _, _ = api.insert({"b": True}, {"b": False}, {"b": 1}, {"b": "true"})

    assert api.ids(api.eq("b", boolean(True))) == [yes.id]
    assert api.ids(api.eq("b", json_value(True))) == [yes.id]


def test_equals_null_value(api: Api) -> None:
    null, _ = api.insert({"x": None}, {"x": 0})

    assert api.ids(api.eq("x", json_value(None))) == [null.id]


def test_equals_object_is_exact(api: Api) -> None:
    exact, larger = api.insert({"o": {"a": 1, "b": {"c": 2}}}, {"o": {"a": 1, "b": {"c": 2}, "d": 3}})

    assert api.ids(api.eq("o", json_object({"a": 1, "b": {"c": 2}}))) == [exact.id]
    assert api.ids(api.eq("o", json_value({"a": 1, "b": {"c": 2}}))) == [exact.id]
    assert api.ids(api.eq("o", json_object({"a": 1}))) == []
    assert set(api.ids(api.eq("o.b", json_object({"c": 2})))) == {exact.id, larger.id}


def test_equals_list_is_exact(api: Api) -> None:
    short, _, _ = api.insert({"l": [1, 2]}, {"l": [1, 2, 3]}, {"l": [2, 1]})

    assert api.ids(api.eq("l", json_list([1, 2]))) == [short.id]
    assert api.ids(api.eq("l", json_value([1, 2]))) == [short.id]
    assert api.ids(api.eq("l", json_list([1]))) == []


def test_equals_scalar_does_not_match_a_list_holding_it(api: Api) -> None:
    scalar, _ = api.insert({"tags": "a"}, {"tags": ["a", "b"]})

    assert api.ids(api.eq("tags", string("a"))) == [scalar.id]


def test_equals_on_a_digit_key(api: Api) -> None:
    record, _ = api.insert({"m": {"7": "x"}}, {"m": {"7": "y"}})

    assert api.ids(api.eq("m.7", string("x"))) == [record.id]


# -- greater_than, less_than, range --------------------------------------------------------


@pytest.fixture
def numbers(api: Api) -> dict[float, str]:
    """Documents {"n": 2}, {"n": 9}, {"n": 10}, {"n": 100}, {"n": 9.5} and a few of other types."""
    records = api.insert({"n": 2}, {"n": 9}, {"n": 10}, {"n": 100}, {"n": 9.5})
    api.insert({"n": "9"}, {"n": "50"}, {"n": True}, {"n": None}, {"n": [50]}, {"other": 1})
    return {data_of(r)["n"]: r.id for r in records}


def test_greater_than_is_strict_and_numeric(api: Api, numbers: dict[float, str]) -> None:
    assert set(api.ids(api.gt("n", int64(9)))) == {numbers[9.5], numbers[10], numbers[100]}
    assert set(api.ids(api.gt("n", double(9.5)))) == {numbers[10], numbers[100]}
    assert api.ids(api.gt("n", int32(100))) == []


def test_less_than_is_strict_and_numeric(api: Api, numbers: dict[float, str]) -> None:
    assert set(api.ids(api.lt("n", int64(10)))) == {numbers[2], numbers[9], numbers[9.5]}
    assert api.ids(api.lt("n", uint32(2))) == []


def test_range_is_inclusive_on_both_ends(api: Api, numbers: dict[float, str]) -> None:
    assert set(api.ids(api.between("n", int64(9), int64(10)))) == {numbers[9], numbers[9.5], numbers[10]}
    assert set(api.ids(api.between("n", float32(9.5), double(9.5)))) == {numbers[9.5]}


def test_range_with_one_end_is_open_on_the_other(api: Api, numbers: dict[float, str]) -> None:
    assert set(api.ids(api.between("n", low=int64(10)))) == {numbers[10], numbers[100]}
    assert set(api.ids(api.between("n", high=int64(9)))) == {numbers[2], numbers[9]}


def test_range_without_ends_is_refused(api: Api) -> None:
    api.error(api.between("n"), code="INVALID_ARGUMENT")


def test_comparisons_never_match_another_json_type(api: Api) -> None:
    (number,) = api.insert({"v": 9})
    (text,) = api.insert({"v": "9"})

    assert api.ids(api.gt("v", int64(5))) == [number.id]  # the string "9" is not > 5
    assert api.ids(api.gt("v", string("5"))) == [text.id]  # the number 9 is not > "5"
    assert api.ids(api.between("v", int64(0), int64(100))) == [number.id]
    assert api.ids(api.lt("v", string("a"))) == [text.id]


def test_strings_compare_in_code_point_order(api: Api) -> None:
    ids = by_name(api, "Zebra", "apple", "banana", "éclair", "10", "9")

    assert set(api.ids(api.gt("name", string("a")))) == {ids["apple"], ids["banana"], ids["éclair"]}
    assert set(api.ids(api.lt("name", string("a")))) == {ids["Zebra"], ids["10"], ids["9"]}
    assert set(api.ids(api.gt("name", string("z")))) == {ids["éclair"]}  # U+00E9 > "z"
    assert set(api.ids(api.between("name", string("9"), string("Zebra")))) == {ids["9"], ids["Zebra"]}
    assert set(api.ids(api.lt("name", string("9")))) == {ids["10"]}  # as text, "10" < "9"


def test_string_order_is_by_code_point_not_utf16(api: Api) -> None:
    ids = by_name(api, "\uff21", "\U0001f600")  # FULLWIDTH A (U+FF21) < GRINNING FACE (U+1F600)

    assert api.ids(api.gt("name", string("\uff21"))) == [ids["\U0001f600"]]
    assert api.ids(api.lt("name", string("\U0001f600"))) == [ids["\uff21"]]


@pytest.fixture
def stamped(api: Api) -> dict[str, str]:
    """Records with explicit created_at/updated_at: name → id."""
    ids = {}
    for name, created in [("old", utc(2020, 1, 1)), ("mid", utc(2022, 6, 15, 12)), ("new", utc(2024, 1, 2, 3, 4, 5))]:
        record = api.insert_one(
            {"name": name},
            created_at=timestamp_of(created),
            updated_at=timestamp_of(created + timedelta(days=1)),
        )
        ids[name] = record.id
    return ids


def test_timestamps_compare_as_time_on_created_at(api: Api, stamped: dict[str, str]) -> None:
    assert set(api.ids(api.gt("created_at", moment(utc(2022, 6, 15, 12))))) == {stamped["new"]}
    assert set(api.ids(api.lt("created_at", moment(utc(2022, 6, 15, 12))))) == {stamped["old"]}
    assert api.ids(api.eq("created_at", moment(utc(2022, 6, 15, 12)))) == [stamped["mid"]]
    assert set(api.ids(api.between("created_at", moment(utc(2020, 1, 1)), moment(utc(2022, 6, 15, 12))))) == {
        stamped["old"],
        stamped["mid"],
    }
    # the same instant written in another zone
    plus_two = datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert api.ids(api.eq("created_at", moment(plus_two))) == [stamped["new"]]


def test_timestamps_compare_as_time_on_updated_at(api: Api, stamped: dict[str, str]) -> None:
    assert set(api.ids(api.between("updated_at", low=moment(utc(2022, 6, 16, 12))))) == {
        stamped["mid"],
        stamped["new"],
    }
    assert api.ids(api.lt("updated_at", moment(utc(2020, 1, 2)))) == []
    assert api.ids(api.between("updated_at", high=moment(utc(2020, 1, 2)))) == [stamped["old"]]


def test_other_types_never_match_a_time_column(api: Api, stamped: dict[str, str]) -> None:
    assert api.ids(api.gt("created_at", int64(0))) == []
    assert api.ids(api.gt("created_at", boolean(False))) == []


def test_timestamps_compare_as_time_on_iso_strings_in_data(api: Api) -> None:
    ids = {
        data_of(r)["label"]: r.id
        for r in api.insert(
            {"label": "z", "at": "2024-01-02T03:04:05Z"},
            {"label": "utc", "at": "2024-01-02T03:04:05+00:00"},
            {"label": "plus2", "at": "2024-01-02T05:04:05+02:00"},  # the same instant
            {"label": "later", "at": "2024-01-03T00:00:00Z"},
            {"label": "fraction", "at": "2024-01-02T03:04:05.5Z"},
            {"label": "earlier", "at": "2023-12-31T23:59:59+00:00"},
            {"label": "text", "at": "not a time"},
            {"label": "number", "at": 20240102},
        )
    }
    same = {ids["z"], ids["utc"], ids["plus2"]}
    at = moment(utc(2024, 1, 2, 3, 4, 5))

    assert set(api.ids(api.eq("at", at))) == same
    assert set(api.ids(api.gt("at", at))) == {ids["later"], ids["fraction"]}
    assert set(api.ids(api.lt("at", at))) == {ids["earlier"]}
    assert set(api.ids(api.between("at", at, at))) == same
    assert set(api.ids(api.between("at", low=at))) == same | {ids["later"], ids["fraction"]}


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-02T03:04:05.123456Z",
        pytest.param("2024-01-02T03:04:05.1234567Z"),
        pytest.param("2024-01-02T03:04:05.123456789Z"),
        pytest.param("2024-01-02T03:04:05.123456789+00:00"),
    ],
)
def test_iso_strings_with_long_fractions_compare_as_time(api: Api, text: str) -> None:
    # RFC 3339 allows any number of fraction digits; protobuf's own JSON form of a
    # Timestamp writes 9 when nanos are set, .NET's round-trip format writes 7.
    (record,) = api.insert({"at": text})

    assert api.ids(api.gt("at", moment(utc(2024, 1, 2, 3, 4, 5)))) == [record.id]
    assert api.ids(api.lt("at", moment(utc(2024, 1, 2, 3, 4, 6)))) == [record.id]


# -- in_filter ------------------------------------------------------------------------------


def test_in_matches_any_listed_value(api: Api) -> None:
    ids = {data_of(r)["v"]: r.id for r in api.insert({"v": "a"}, {"v": 7}, {"v": True}, {"v": "b"}, {"v": 8})}

    assert set(api.ids(api.one_of("v", [string("a"), double(7.0), boolean(True)]))) == {
        ids["a"],
        ids[7],
        ids[True],
    }
    assert api.ids(api.one_of("v", [string("7"), string("zzz")])) == []


def test_in_with_an_empty_list_matches_nothing(api: Api) -> None:
    api.insert({"v": "a"})

    assert api.ids(api.one_of("v", [])) == []


def test_in_on_the_id_column(api: Api) -> None:
    first, _, third = api.insert({}, {}, {})

    assert set(api.ids(api.one_of("id", [string(first.id), string(third.id), string("nope")]))) == {
        first.id,
        third.id,
    }


# -- text_search ----------------------------------------------------------------------------


def test_text_search_needs_every_word(api: Api) -> None:
    brown, red = api.insert({"t": "The quick brown fox"}, {"t": "A quick red fox"})

    assert set(api.ids(api.text("quick fox"))) == {brown.id, red.id}
    assert api.ids(api.text("brown fox")) == [brown.id]
    assert api.ids(api.text("QUICK Brown")) == [brown.id]
    assert api.ids(api.text("brown red")) == []


def test_text_search_over_listed_fields_or_all_data(api: Api) -> None:
    record, _ = api.insert(
        {"title": "alpha", "body": "beta", "meta": {"note": "gamma"}},
        {"title": "delta"},
    )

    assert api.ids(api.text("beta", fields=["title"])) == []
    assert api.ids(api.text("beta", fields=["title", "body"])) == [record.id]
    assert api.ids(api.text("alpha beta", fields=["title", "body"])) == [record.id]
    assert api.ids(api.text("gamma", fields=["meta.note"])) == [record.id]
    assert api.ids(api.text("alpha gamma")) == [record.id]  # no fields: all of data, nested too


def test_text_search_query_syntax_is_plain_words(api: Api) -> None:
    brown, _ = api.insert({"t": "quick brown fox"}, {"t": "quick red fox"})

    assert api.ids(api.text("quick & !brown")) == [brown.id]
    assert api.ids(api.text("brown | red")) == []
    assert api.ids(api.text("fox:*  (brown)")) == [brown.id]


def test_english_analyzer_stems(api: Api) -> None:
    # PostgreSQL's english stemmer reduces both "running" and "runs" to "run".
    record, _ = api.insert({"t": "she runs every day"}, {"t": "a runner"})

    assert api.ids(api.text("running", analyzer="english")) == [record.id]


@pytest.mark.parametrize("analyzer", ["", "standard", "simple"])
def test_standard_and_empty_analyzer_mean_simple(api: Api, analyzer: str) -> None:
    record, end = api.insert({"t": "she runs every day"}, {"t": "the end"})

    assert api.ids(api.text("running", analyzer=analyzer)) == []
    assert api.ids(api.text("runs", analyzer=analyzer)) == [record.id]
    assert api.ids(api.text("the", analyzer=analyzer)) == [end.id]  # simple keeps stop words


@pytest.mark.parametrize(
    "analyzer",
    [
        "klingon",
        "pg_catalog.klingon",
        pytest.param("english'; DROP TABLE documents; --"),
        pytest.param("a.b.c.d"),
    ],
)
def test_unknown_analyzer_is_invalid_argument(api: Api, analyzer: str) -> None:
    api.insert({"t": "anything"})

    api.error(api.text("anything", analyzer=analyzer), code="INVALID_ARGUMENT")
    assert len(api.ids()) == 1


# -- and / or --------------------------------------------------------------------------------


def test_and_or_nest(api: Api) -> None:
    ids = {
        data_of(r)["name"]: r.id
        for r in api.insert(
            {"name": "a", "kind": "x", "n": 1},
            {"name": "b", "kind": "x", "n": 5},
            {"name": "c", "kind": "y", "n": 5},
            {"name": "d", "kind": "x", "n": 9},
        )
    }
    # kind = x AND (n < 2 OR n > 8)
    criteria = api.all_of(api.eq("kind", string("x")), api.any_of(api.lt("n", int64(2)), api.gt("n", int64(8))))
    assert set(api.ids(criteria)) == {ids["a"], ids["d"]}
    # (kind = y) OR (kind = x AND n = 5)
    criteria = api.any_of(api.eq("kind", string("y")), api.all_of(api.eq("kind", string("x")), api.eq("n", int64(5))))
    assert set(api.ids(criteria)) == {ids["b"], ids["c"]}


def nested(api: Api, levels: int, leaf: Any) -> Any:
    """``levels`` alternating or/and filters around ``leaf``, built in place (see ``Api.raw``)."""
    root = api.criteria()
    node = root
    for level in range(levels):
        node = (node.and_filter if level % 2 else node.or_filter).filters.add()
    node.CopyFrom(leaf)
    return root


def test_deep_but_accepted_nesting_works(api: Api) -> None:
    record, other = api.insert({"n": 1}, {"n": 2})

    assert api.ids(nested(api, 45, api.eq("n", int64(1)))) == [record.id]
    assert api.ids(nested(api, 48, api.eq("n", int64(2)))) == [other.id]


@pytest.mark.parametrize("levels", [49, 65, 300])
def test_nesting_beyond_the_protobuf_limit_fails_cleanly(api: Api, levels: int) -> None:
    # The 64-level criteria limit cannot be reached over gRPC: every and/or level
    # costs two protobuf nesting levels, and the server's protobuf refuses messages
    # nested deeper than 100 while parsing (48 and/or levels is the most that gets
    # through). Such a request must fail without harming the server: grpcio answers
    # a request it cannot decode with status UNKNOWN before any handler runs.
    (record,) = api.insert({"n": 1})
    try:
        answer = api.raw(nested(api, levels, api.eq("n", int64(1))))
    except grpc.RpcError as exc:
        assert exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
        assert not any(leak in (exc.details() or "") for leak in LEAKS)
    else:
        assert_error(answer, "INVALID_ARGUMENT")

    assert api.ids(api.eq("n", int64(1))) == [record.id]


# -- order_by ---------------------------------------------------------------------------------


def test_order_by_keys_in_the_order_given(api: Api) -> None:
    rows = [("a", 1), ("b", 3), ("a", 3), ("b", 1), ("a", 2)]
    api.insert(*({"g": g, "n": n} for g, n in rows))

    found = [(d["g"], d["n"]) for d in map(data_of, api.find(order_by=[api.order("g", True), api.order("n", False)]))]
    assert found == [("a", 3), ("a", 2), ("a", 1), ("b", 3), ("b", 1)]
    found = [(d["g"], d["n"]) for d in map(data_of, api.find(order_by=[api.order("n", True), api.order("g", True)]))]
    assert found == [("a", 1), ("b", 1), ("a", 2), ("a", 3), ("b", 3)]


def test_ascending_unset_means_descending(api: Api) -> None:
    api.insert({"n": 2}, {"n": 1}, {"n": 3})

    assert api.values("n", order_by=[api.order("n")]) == [3, 2, 1]
    assert api.values("n", order_by=[api.order("n", True)]) == [1, 2, 3]


def test_numbers_sort_numerically(api: Api) -> None:
    api.insert({"n": 10}, {"n": 9}, {"n": 100}, {"n": 2.5}, {"n": -1})

    assert api.values("n", order_by=[api.order("n", True)]) == [-1, 2.5, 9, 10, 100]
    assert api.values("n", order_by=[api.order("n", False)]) == [100, 10, 9, 2.5, -1]


def test_order_by_a_column(api: Api, stamped: dict[str, str]) -> None:
    assert api.ids(order_by=[api.order("created_at", True)]) == [stamped["old"], stamped["mid"], stamped["new"]]
    assert api.ids(order_by=[api.order("created_at")]) == [stamped["new"], stamped["mid"], stamped["old"]]


def test_default_order_is_stable_and_pages_never_skip_or_repeat(api: Api) -> None:
    records = api.insert(*({"i": i} for i in range(25)))
    assert len({(r.created_at.seconds, r.created_at.nanos) for r in records}) == 1  # one statement, one time

    everything = api.ids()
    assert api.ids() == everything
    pages = [api.ids(limit=7, offset=offset) for offset in range(0, 35, 7)]
    assert [len(page) for page in pages] == [7, 7, 7, 4, 0]
    assert [doc_id for page in pages for doc_id in page] == everything
    assert sorted(everything) == sorted(r.id for r in records)


def test_default_order_is_created_at_then_id(api: Api) -> None:
    later = api.insert_one({"n": 1}, created_at=timestamp_of(utc(2020, 1, 1)))
    earlier = api.insert_one({"n": 2}, created_at=timestamp_of(utc(2010, 1, 1)))
    batch = [r.id for r in api.insert({"n": 3}, {"n": 4}, {"n": 5}, {"n": 6})]  # created now, all at once

    assert api.ids() == [earlier.id, later.id, *sorted(batch)]


def test_pages_over_tied_sort_keys_never_skip_or_repeat(api: Api) -> None:
    records = api.insert(*({"g": i % 2} for i in range(25)))

    order = [api.order("g", True)]
    pages = [api.ids(limit=7, offset=offset, order_by=order) for offset in range(0, 28, 7)]
    flat = [doc_id for page in pages for doc_id in page]
    assert flat == api.ids(order_by=order)
    assert sorted(flat) == sorted(r.id for r in records)


# -- limit, offset ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crowded(client: Any, pb: ModuleType) -> Api:
    """One collection of 1001 documents, shared by the page-size tests."""
    api = Api(client, pb, "c-" + uuid.uuid4().hex[:12])
    api.insert(*({"i": i} for i in range(1001)))
    return api


def test_limit_zero_means_a_page_of_1000(crowded: Api) -> None:
    answer = crowded.raw()
    assert answer.success, answer.error_message
    assert answer.count == len(answer.results) == 1000


def test_limit_above_the_default_page_is_honoured(crowded: Api) -> None:
    assert len(crowded.ids(limit=1001)) == 1001
    assert len(crowded.ids(limit=10000)) == 1001
    assert len(crowded.ids(offset=1000)) == 1


def test_limit_and_offset(api: Api) -> None:
    api.insert(*({"n": n} for n in range(10)))

    assert api.values("n", limit=3, order_by=[api.order("n", True)]) == [0, 1, 2]
    assert api.values("n", limit=3, offset=8, order_by=[api.order("n", True)]) == [8, 9]
    assert api.find(offset=10) == []


@pytest.mark.parametrize(("limit", "offset"), [(10001, 0), (2**31 - 1, 0), (-1, 0), (0, -1), (5, -7)])
def test_out_of_range_page_is_invalid_argument(api: Api, limit: int, offset: int) -> None:
    api.insert({"n": 1})

    api.error(code="INVALID_ARGUMENT", limit=limit, offset=offset)


# -- projections -------------------------------------------------------------------------------


def test_projections_keep_only_listed_paths(api: Api) -> None:
    inserted = api.insert_one({"a": 1, "b": 2, "profile": {"city": "Oslo", "zip": "0150"}, "id": "inner"})

    (record,) = api.find(projections=["a", "profile.city", "missing", "profile.zip.deeper"])
    assert data_of(record) == {"a": 1, "profile": {"city": "Oslo"}}
    assert record.id == inserted.id
    assert record.version == "1"
    assert record.created_at == inserted.created_at and record.updated_at == inserted.updated_at


def test_projecting_columns_still_returns_them_and_data_id_reaches_data(api: Api) -> None:
    inserted = api.insert_one({"a": 1, "id": "inner"})

    (record,) = api.find(projections=["id", "version", "created_at"])
    assert data_of(record) == {}
    assert (record.id, record.version, record.created_at) == (inserted.id, "1", inserted.created_at)
    (record,) = api.find(projections=["data.id"])
    assert data_of(record) == {"id": "inner"}


# -- count, query types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query_type", ["POINT_LOOKUP", "RANGE_SCAN", "DOCUMENT_QUERY", "FULL_TEXT_SEARCH", "TIME_SERIES"]
)
def test_criteria_query_types_run_the_criteria(api: Api, query_type: str) -> None:
    match, _, also = api.insert({"n": 1}, {"n": 5}, {"n": 2})

    answer = api.raw(api.lt("n", int64(3)), query_type=getattr(api.pb, query_type), order_by=[api.order("n", True)])
    assert answer.success, answer.error_message
    assert answer.count == 2
    assert [r.id for r in answer.results] == [match.id, also.id]


def test_aggregation_counts_matches(api: Api) -> None:
    api.insert(*({"n": n} for n in range(12)))

    answer = api.raw(api.gt("n", int64(2)), query_type=api.pb.AGGREGATION)
    assert answer.success, answer.error_message
    assert answer.count == 1
    (result,) = answer.results
    assert data_of(result) == {"count": 9}
    assert data_of(api.raw(query_type=api.pb.AGGREGATION).results[0]) == {"count": 12}


def test_aggregation_of_nothing_is_zero(api: Api) -> None:
    answer = api.raw(query_type=api.pb.AGGREGATION)
    assert answer.success, answer.error_message
    assert [data_of(r) for r in answer.results] == [{"count": 0}]


@pytest.mark.parametrize(("limit", "offset"), [(-1, 0), (0, -1), (10001, 0)])
def test_aggregation_refuses_an_invalid_page_too(api: Api, limit: int, offset: int) -> None:
    api.insert({"n": 1})

    api.error(code="INVALID_ARGUMENT", query_type=api.pb.AGGREGATION, limit=limit, offset=offset)


@pytest.mark.parametrize("query_type", ["GRAPH_TRAVERSAL", "GEOSPATIAL"])
def test_unsupported_query_types_are_unimplemented(api: Api, query_type: str) -> None:
    api.insert({"n": 1})

    api.error(code="UNIMPLEMENTED", query_type=getattr(api.pb, query_type))


def test_vector_search_criteria_ranks_only_under_and(api: Api) -> None:
    """It ranks (tests/test_vector_search.py); inside or_filter, or with nothing to rank by, it is refused."""
    vector = api.criteria(vector_search=api.pb.VectorSearchFilter(field="v", query_vector=[0.1, 0.2], limit=3))

    api.error(api.any_of(api.eq("n", int64(1)), vector), code="INVALID_ARGUMENT")
    api.error(api.all_of(vector, vector), code="INVALID_ARGUMENT")
    api.error(code="INVALID_ARGUMENT", query_type=api.pb.VECTOR_SIMILARITY)


# -- refused values -----------------------------------------------------------------------------


def test_unsupported_any_type_is_invalid_argument_naming_it(api: Api) -> None:
    message = api.error(api.eq("n", pack(duration_pb2.Duration(seconds=5))), code="INVALID_ARGUMENT")
    assert "google.protobuf.Duration" in message


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda a: a.eq("n", any_pb2.Any()), id="equals-unset-value"),
        pytest.param(lambda a: a.gt("n", double(float("nan"))), id="nan"),
        pytest.param(lambda a: a.lt("n", json_value(float("inf"))), id="infinity"),
        pytest.param(lambda a: a.gt("n", json_list([1])), id="compare-list"),
        pytest.param(lambda a: a.one_of("n", [string("a"), pack(wrappers_pb2.BytesValue(value=b"x"))]), id="bytes"),
        pytest.param(lambda a: a.eq("", string("a")), id="empty-field"),
        pytest.param(lambda a: a.eq("a..b", string("a")), id="empty-segment"),
        pytest.param(lambda a: a.text("   "), id="blank-text-query"),
        pytest.param(lambda a: a.eq("n", string("a\x00b")), id="nul-in-string"),
        pytest.param(lambda a: a.gt("n", json_value(None)), id="compare-null"),
        pytest.param(lambda a: a.text("x", fields=["id"]), id="text-search-on-a-column"),
        pytest.param(lambda a: a.eq("a" * 1025, string("x")), id="field-too-long"),
    ],
)
def test_bad_filters_are_invalid_argument(api: Api, make: Any) -> None:
    api.insert({"n": 1})

    api.error(make(api), code="INVALID_ARGUMENT")


@pytest.mark.parametrize(
    "stamp",
    [timestamp_pb2.Timestamp(seconds=2**40), timestamp_pb2.Timestamp(seconds=0, nanos=-5)],
    ids=["after-year-9999", "negative-nanos"],
)
@pytest.mark.parametrize("field", ["created_at", "at"])
def test_invalid_timestamp_is_invalid_argument(api: Api, stamp: timestamp_pb2.Timestamp, field: str) -> None:
    api.insert({"at": "2024-01-01T00:00:00Z"})

    api.error(api.gt(field, pack(stamp)), code="INVALID_ARGUMENT")


# -- hostile and odd input ----------------------------------------------------------------------

INJECTION_KEY = "x'); DROP TABLE documents; --"
INJECTION_VALUE = "O'Reilly \"quoted\" '); DELETE FROM documents; -- \\"


def test_sql_in_keys_and_values_is_just_data(api: Api) -> None:
    target, _ = api.insert({INJECTION_KEY: INJECTION_VALUE, "n": 1}, {INJECTION_KEY: "other", "n": 2})

    assert api.ids(api.eq(INJECTION_KEY, string(INJECTION_VALUE))) == [target.id]
    assert api.ids(api.one_of(INJECTION_KEY, [string(INJECTION_VALUE)])) == [target.id]
    assert api.ids(api.gt(INJECTION_KEY, string("P"))) == [api.ids(api.eq("n", int64(2)))[0]]
    assert api.ids(api.text("Reilly quoted", fields=[INJECTION_KEY])) == [target.id]
    assert api.values("n", order_by=[api.order(INJECTION_KEY, True)]) == [1, 2]
    (projected,) = api.find(api.eq("n", int64(1)), projections=[INJECTION_KEY])
    assert data_of(projected) == {INJECTION_KEY: INJECTION_VALUE}
    assert len(api.ids()) == 2  # the table is still there


def test_sql_in_the_collection_name_is_just_a_name(api: Api) -> None:
    (record,) = api.insert({"n": 1})
    hostile = Api(api.client, api.pb, "x'; DROP TABLE documents; --")

    assert hostile.find() == []
    assert api.ids() == [record.id]


ODD_STRINGS = {
    "emoji": "🦄🚀 👩‍👩‍👧",
    "rtl": "שלום עולם مرحبا",
    "quotes": 'it\'s "quoted" `back`',
    "backslashes": "C:\\path\\to\\ \\u0041 \\\\",
    "array-syntax": '{a,"b"} NULL',
    "combining": "e\u0301 \u200f\u202e",
}


@pytest.mark.parametrize("text", ODD_STRINGS.values(), ids=ODD_STRINGS.keys())
def test_odd_unicode_round_trips_and_is_queryable(api: Api, text: str) -> None:
    data = {text: text, "nested": {text: [text]}}
    target, _ = api.insert(data, {text: "plain", "nested": {text: ["plain"]}})

    (found,) = api.find(api.eq(text, string(text)))
    assert found.id == target.id
    assert data_of(found) == data
    assert api.ids(api.eq(f"nested.{text}", json_list([text]))) == [target.id]
    assert api.ids(api.one_of(text, [string(text), string("nothing")])) == [target.id]
    assert api.ids(api.between(text, string(text), string(text))) == [target.id]
    (projected,) = api.find(api.eq(text, string(text)), projections=[f"nested.{text}"])
    assert data_of(projected) == {"nested": {text: [text]}}


# -- timing ----------------------------------------------------------------------------------


def test_execution_time_is_reported_on_every_answer(api: Api) -> None:
    api.insert({"n": 1})

    assert api.raw().execution_time_ms >= 1
    assert api.raw(query_type=api.pb.AGGREGATION).execution_time_ms >= 1
    assert api.raw(limit=-1).execution_time_ms >= 1
    assert api.raw(query_type=api.pb.GEOSPATIAL).execution_time_ms >= 1
