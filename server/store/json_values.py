"""JSON values as PostgreSQL's JSONB accepts them.

JSONB refuses NaN, ±Infinity and the NUL character, and every number that comes
through protobuf's ``Struct`` is a double. :func:`normalize` checks a value once,
before any SQL runs, so bad input is refused with a clear message and changes
nothing; on the way it turns integral doubles within ±2**53 into ``int`` so a
direct-import reader sees ``30``, not ``30.0``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from server.store.errors import InvalidArgument

#: The largest integer a double represents exactly; beyond it "integral" is an accident.
MAX_EXACT_INTEGER = 2**53


def normalize(value: Any, where: str = "data") -> Any:
    """Return ``value`` as plain JSON types, or raise InvalidArgument naming the spot."""
    kind = type(value)
    if kind is str:
        if "\x00" in value:
            raise InvalidArgument(f"{where}: strings may not contain the NUL character (\\u0000)")
        return value
    if kind is dict:
        # The common case, written out: a dict of plain scalars costs no recursion
        # and no ``where`` text unless a value needs a closer look.
        result = {}
        for key, item in value.items():
            if type(key) is not str:
                if not isinstance(key, str):
                    raise InvalidArgument(f"{where}: object keys must be strings, not {type(key).__name__}")
                key = str(key)
            if "\x00" in key:
                raise InvalidArgument(f"{where}: keys may not contain the NUL character (\\u0000)")
            item_kind = type(item)
            if (item_kind is str and "\x00" not in item) or item_kind is int or item_kind is bool or item is None:
                result[key] = item
            else:
                result[key] = normalize(item, f"{where}.{key}")
        return result
    if kind is list or kind is tuple:
        return [normalize(item, f"{where}[{index}]") for index, item in enumerate(value)]
    return _normalize_other(value, where)


def _normalize_other(value: Any, where: str) -> Any:
    """Numbers, times, and subclasses of the plain types (any Mapping, a str subclass)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return normalize(str(value), where)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgument(f"{where}: {value} is not a JSON number (NaN and Infinity are refused)")
        if value.is_integer() and abs(value) <= MAX_EXACT_INTEGER:
            return int(value)
        return float(value)
    if isinstance(value, Mapping):
        return normalize(dict(value), where)
    if isinstance(value, (list, tuple)):
        return normalize(list(value), where)
    if isinstance(value, datetime):
        return isoformat(value)
    raise InvalidArgument(f"{where}: a {type(value).__name__} is not a JSON value")


def isoformat(moment: datetime) -> str:
    """RFC 3339 text for a datetime, naive ones taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def dumps(value: Any) -> str:
    """Compact JSON text; refuses NaN as a last line of defence."""
    return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
