"""What a source row becomes: a valid :class:`Record`, or a :class:`Reject` saying why not.

Every source funnels its rows through :func:`make_record`, so a record imported
from CockroachDB and one read from a JSON Lines file obey the same rules as a
document written through the store (names 1..255 characters, JSON that JSONB
accepts, integral floats as ints). A bad row is refused here, before any SQL
runs, so one bad row costs one reject line instead of a failed batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from server.store.errors import InvalidArgument
from server.store.json_values import dumps, normalize
from server.store.statements import MAX_NAME_LENGTH

#: The fields one record carries, in the order the JSON Lines format writes them.
FIELDS = ("id", "collection", "data", "created_at", "updated_at", "version")


class Rejected(ValueError):
    """A source row that cannot become a document; the message is the reason shown to the operator."""


@dataclass(frozen=True, slots=True)
class Record:
    """One valid document to import; ``None`` timestamps or version mean the source had none."""

    id: str
    collection: str
    data: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None
    version: int | None


@dataclass(frozen=True, slots=True)
class Reject:
    """A source row refused, with where it was: a line number for files, a key for tables."""

    source: str
    reason: str
    raw: str
    line: int | None = None
    key: dict[str, Any] | None = None

    def as_json(self) -> str:
        """One line of the reject file."""
        entry: dict[str, Any] = {"source": self.source}
        if self.line is not None:
            entry["line"] = self.line
        if self.key is not None:
            entry["key"] = self.key
        entry["reason"] = self.reason
        entry["raw"] = self.raw
        return dumps(entry)


def make_record(
    *,
    id: Any,
    collection: Any,
    data: Any,
    created_at: Any = None,
    updated_at: Any = None,
    version: Any = None,
) -> Record:
    """A valid Record from raw source values, or :class:`Rejected` naming the first problem."""
    return Record(
        id=_name(id, "id"),
        collection=_name(collection, "collection"),
        data=_data(data),
        created_at=timestamp(created_at, "created_at"),
        updated_at=timestamp(updated_at, "updated_at"),
        version=_version(version),
    )


def _name(value: Any, what: str) -> str:
    if value is None or value == "":
        raise Rejected(f"missing {what}")
    if not isinstance(value, str):
        raise Rejected(f"{what} must be a string, not {type(value).__name__}")
    if len(value) > MAX_NAME_LENGTH:
        raise Rejected(f"{what} is {len(value)} characters long; at most {MAX_NAME_LENGTH} are allowed")
    if "\x00" in value:
        raise Rejected(f"{what} contains the NUL character (\\u0000)")
    return value


def _data(value: Any) -> dict[str, Any]:
    if value is None:
        raise Rejected("missing data")
    if not isinstance(value, dict):
        raise Rejected(f"data must be a JSON object, not {_json_type(value)}")
    try:
        normalized: dict[str, Any] = normalize(value, "data")
    except InvalidArgument as exc:
        raise Rejected(str(exc)) from None
    return normalized


def timestamp(value: Any, what: str) -> datetime | None:
    """A timezone-aware datetime; naive values (and zone-less text) are taken as UTC, like the store does."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise Rejected(f"{what} {value!r} is not an ISO 8601 timestamp") from None
    if not isinstance(value, datetime):
        raise Rejected(f"{what} must be an ISO 8601 timestamp, not {_json_type(value)}")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _version(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, float | Decimal) and math.isfinite(value) and value == int(value):
        value = int(value)  # 3.0 in JSON, or a NUMERIC column
    if isinstance(value, str) and value.isdigit():
        value = int(value)  # the contract carries versions as decimal text
    if isinstance(value, bool) or not isinstance(value, int):
        raise Rejected(f"version must be a whole number, not {_json_type(value)}")
    if value < 1:
        raise Rejected(f"version must be 1 or more, not {value}")
    return value


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"a {type(value).__name__}"
