"""Protobuf messages ↔ store values: the only place that knows both shapes.

Conversions walk each message once. ``Struct`` numbers are doubles on the wire;
:func:`server.store.json_values.normalize` (run by the store) turns integral ones
back into ints, so the adapter does not do it twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from google.protobuf import any_pb2, struct_pb2, timestamp_pb2, wrappers_pb2

from server.store import (
    And,
    Compare,
    Criteria,
    Document,
    Equals,
    Field,
    In,
    InvalidArgument,
    MatchAll,
    NewDocument,
    Or,
    OrderBy,
    Query,
    TextSearch,
    Unimplemented,
    range_of,
)
from server.store.criteria import MAX_DEPTH, VectorNearest
from stubs import persistence_platform_pb2 as pb

# -- Struct ---------------------------------------------------------------------


def value_to_python(value: struct_pb2.Value) -> Any:
    # Kinds in order of how common they are in documents; this runs for every value of every record.
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and -(2**53) <= number <= 2**53:
            return int(number)
        return number
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "list_value":
        return [value_to_python(item) for item in value.list_value.values]
    if kind == "bool_value":
        return value.bool_value
    return None  # null_value, or a Value with no kind set


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    fields = struct.fields  # indexing the map is cheaper than its items() view
    return {key: value_to_python(fields[key]) for key in fields}


def dict_to_struct(data: dict[str, Any], target: struct_pb2.Struct) -> None:
    target.update(data)


# -- time -----------------------------------------------------------------------


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_timestamp(moment: datetime, target: timestamp_pb2.Timestamp) -> None:
    # What Timestamp.FromDatetime computes, without its detour through a time tuple.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    since = moment - _EPOCH
    target.seconds = since.days * 86400 + since.seconds
    target.nanos = since.microseconds * 1000


def from_timestamp(stamp: timestamp_pb2.Timestamp, where: str = "timestamp") -> datetime:
    try:
        return stamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidArgument(f"{where}: seconds={stamp.seconds} nanos={stamp.nanos} is not a valid time") from None


# -- records --------------------------------------------------------------------


def to_record(document: Document, target: pb.Record, data: struct_pb2.Struct | None = None) -> None:
    """Fill ``target`` from ``document``.

    ``data``: the Struct the document was written from (an insert), copied in C
    instead of converting the stored dict back; it is the same value, since
    :func:`struct_to_dict` and the store's normalization only turn integral
    doubles into ints, which a Struct holds as the same doubles.
    """
    target.id = document.id
    if data is not None:
        target.data.CopyFrom(data)
    else:
        dict_to_struct(document.data, target.data)
    to_timestamp(document.created_at, target.created_at)
    to_timestamp(document.updated_at, target.updated_at)
    target.version = str(document.version)


def new_document(record: pb.Record) -> NewDocument:
    return NewDocument(
        data=struct_to_dict(record.data),
        id=record.id or None,
        created_at=from_timestamp(record.created_at, "created_at") if record.HasField("created_at") else None,
        updated_at=from_timestamp(record.updated_at, "updated_at") if record.HasField("updated_at") else None,
    )


# -- filter values --------------------------------------------------------------

_WRAPPERS: dict[str, type[Any]] = {
    "google.protobuf.StringValue": wrappers_pb2.StringValue,
    "google.protobuf.BoolValue": wrappers_pb2.BoolValue,
    "google.protobuf.Int32Value": wrappers_pb2.Int32Value,
    "google.protobuf.Int64Value": wrappers_pb2.Int64Value,
    "google.protobuf.UInt32Value": wrappers_pb2.UInt32Value,
    "google.protobuf.UInt64Value": wrappers_pb2.UInt64Value,
    "google.protobuf.FloatValue": wrappers_pb2.FloatValue,
    "google.protobuf.DoubleValue": wrappers_pb2.DoubleValue,
}


def any_to_value(packed: any_pb2.Any, where: str) -> Any:
    """The Python value a filter's ``Any`` carries; unknown types are refused by name."""
    type_name = packed.TypeName()
    if not type_name:
        raise InvalidArgument(f"{where}: the value is not set")
    if type_name in _WRAPPERS:
        wrapper = _WRAPPERS[type_name]()
        _unpack(packed, wrapper, where)
        value = wrapper.value
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidArgument(f"{where}: NaN and Infinity are not comparable values")
        return value
    if type_name == "google.protobuf.Value":
        message: Any = struct_pb2.Value()
        _unpack(packed, message, where)
        if message.WhichOneof("kind") == "number_value" and not math.isfinite(message.number_value):
            raise InvalidArgument(f"{where}: NaN and Infinity are not comparable values")
        return value_to_python(message)
    if type_name == "google.protobuf.ListValue":
        message = struct_pb2.ListValue()
        _unpack(packed, message, where)
        return [value_to_python(item) for item in message.values]
    if type_name == "google.protobuf.Struct":
        message = struct_pb2.Struct()
        _unpack(packed, message, where)
        return struct_to_dict(message)
    if type_name == "google.protobuf.Timestamp":
        message = timestamp_pb2.Timestamp()
        _unpack(packed, message, where)
        return from_timestamp(message, where)
    raise InvalidArgument(f"{where}: values of type {type_name} are not supported")


def _unpack(packed: any_pb2.Any, message: Any, where: str) -> None:
    try:
        ok = packed.Unpack(message)
    except Exception as exc:  # a malformed payload
        raise InvalidArgument(f"{where}: the {packed.TypeName()} value cannot be decoded") from exc
    if not ok:
        raise InvalidArgument(f"{where}: the value cannot be decoded")


# -- criteria -------------------------------------------------------------------


def criteria_from_proto(message: pb.QueryCriteria, depth: int = 0) -> Criteria:
    """The store's criteria tree for a ``QueryCriteria`` (unset means everything)."""
    if depth > MAX_DEPTH:
        raise InvalidArgument(f"criteria nest and/or deeper than {MAX_DEPTH} levels")
    kind = message.WhichOneof("criteria")
    if kind is None:
        return MatchAll()
    if kind == "equals":
        f = message.equals
        return Equals(Field.parse(f.field), any_to_value(f.value, f"equals {f.field}"))
    if kind == "greater_than":
        g = message.greater_than
        return Compare(Field.parse(g.field), ">", any_to_value(g.value, f"greater_than {g.field}"))
    if kind == "less_than":
        lt = message.less_than
        return Compare(Field.parse(lt.field), "<", any_to_value(lt.value, f"less_than {lt.field}"))
    if kind == "in_filter":
        i = message.in_filter
        values = tuple(any_to_value(v, f"in_filter {i.field}") for v in i.values)
        return In(Field.parse(i.field), values)
    if kind == "range":
        r = message.range
        low = any_to_value(r.min_value, f"range {r.field} min_value") if r.HasField("min_value") else None
        high = any_to_value(r.max_value, f"range {r.field} max_value") if r.HasField("max_value") else None
        return range_of(Field.parse(r.field), low, high)
    if kind == "text_search":
        t = message.text_search
        return TextSearch(tuple(Field.parse(name) for name in t.fields), t.query, t.analyzer)
    if kind == "and_filter":
        return And(tuple(criteria_from_proto(item, depth + 1) for item in message.and_filter.filters))
    if kind == "or_filter":
        return Or(tuple(criteria_from_proto(item, depth + 1) for item in message.or_filter.filters))
    if kind == "vector_search":
        v = message.vector_search
        return VectorNearest(
            field=Field.parse(v.field) if v.field else None,
            vector=tuple(v.query_vector),
            limit=v.limit,
            threshold=v.threshold or None,
            metric=v.distance_metric,
        )
    raise Unimplemented(f"{kind} filters are not supported")


def order_from_proto(items: Iterable[pb.OrderBy]) -> tuple[OrderBy, ...]:
    return tuple(OrderBy(Field.parse(item.field), ascending=item.ascending) for item in items)


def query_from_spec(spec: pb.QuerySpec) -> Query:
    criteria = criteria_from_proto(spec.criteria) if spec.HasField("criteria") else MatchAll()
    return Query(
        criteria=criteria,
        order_by=order_from_proto(spec.order_by),
        limit=spec.limit or None,
        offset=spec.offset,
        projections=tuple(Field.parse(name) for name in spec.projections),
    )
