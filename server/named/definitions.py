"""Named queries and operations as the server runs them, whatever file form they came from.

A definition is a template: parameters are declared with a type, and the
criteria, paging and step arguments refer to them as ``"$name"``. At call time
the parameters are checked (missing, unknown, wrong type → INVALID_ARGUMENT
naming the parameter) and substituted; a filter whose optional parameter was
not given is dropped, so optional filters need no extra definitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from server.store import InvalidArgument, Unimplemented
from server.store.indexes import IndexSpec
from server.store.vectors import VectorField

#: Stands in for an optional parameter the caller did not give.
ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "ABSENT"})()

PARAMETER_TYPES = ("any", "scalar", "string", "integer", "number", "boolean", "object", "array", "timestamp")


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    type: str = "any"
    required: bool = True
    default: Any = ABSENT

    def check(self, value: Any) -> Any:
        """The value converted to this parameter's type, or InvalidArgument naming it."""
        kind = self.type
        ok = True
        if kind == "string":
            ok = isinstance(value, str)
        elif kind == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind == "number":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif kind == "boolean":
            ok = isinstance(value, bool)
        elif kind == "object":
            ok = isinstance(value, dict)
        elif kind == "array":
            ok = isinstance(value, list)
        elif kind == "scalar":
            ok = isinstance(value, (str, int, float, bool))
        elif kind == "timestamp":
            if isinstance(value, datetime):
                return value
            if isinstance(value, str):
                try:
                    return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
                except ValueError:
                    ok = False
            else:
                ok = False
        if not ok:
            raise InvalidArgument(f"parameter {self.name!r} must be of type {kind}, not {_type_name(value)}")
        return value


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", dict: "object", list: "array"}.get(
        type(value), type(value).__name__
    )


@dataclass(frozen=True, slots=True)
class Parameters:
    declared: tuple[Parameter, ...] = ()
    #: The whole parameter object is the value of ``"$$all"`` (a legacy insert's document).
    accept_any: bool = False

    def bind(self, given: Mapping[str, Any]) -> dict[str, Any]:
        by_name = {p.name: p for p in self.declared}
        if not self.accept_any:
            unknown = sorted(set(given) - set(by_name))
            if unknown:
                raise InvalidArgument(f"unknown parameter {unknown[0]!r} (accepted: {', '.join(by_name) or 'none'})")
        bound: dict[str, Any] = {}
        for parameter in self.declared:
            if parameter.name in given and given[parameter.name] is not None:
                bound[parameter.name] = parameter.check(given[parameter.name])
            elif parameter.default is not ABSENT:
                bound[parameter.name] = parameter.default
            elif parameter.required:
                raise InvalidArgument(f"missing parameter {parameter.name!r}")
            else:
                bound[parameter.name] = ABSENT
        bound["$all"] = dict(given)
        return bound


def substitute(template: Any, bound: Mapping[str, Any]) -> Any:
    """Replace ``"$name"`` strings (and ``"$$all"``) by parameter values, recursively."""
    if isinstance(template, str) and template.startswith("$"):
        name = template[1:]
        if name not in bound:
            raise InvalidArgument(f"template refers to undeclared parameter {name!r}")
        return bound[name]
    if isinstance(template, dict):
        return {key: substitute(value, bound) for key, value in template.items()}
    if isinstance(template, list):
        return [substitute(value, bound) for value in template]
    return template


@dataclass(frozen=True, slots=True)
class NamedQuery:
    name: str
    collection: str
    parameters: Parameters
    criteria: Any = None  # a criteria template (see ``server.named.templates``)
    order_by: tuple[tuple[str, bool], ...] = ()
    limit: Any = None
    offset: Any = 0
    projections: tuple[str, ...] = ()
    include_deleted: bool = False
    count_only: bool = False
    #: Seconds an answer may be served from cache; None never caches.
    cache_ttl: float | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class Step:
    """One step of an operation: ``kind`` is insert, update, update_where, delete, soft_delete or noop."""

    kind: str
    collection: str = ""
    arguments: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True, slots=True)
class NamedOperation:
    name: str
    parameters: Parameters
    steps: tuple[Step, ...]
    source: str = ""


@dataclass(frozen=True, slots=True)
class Unsupported:
    """An entry that has no meaning on one PostgreSQL table; calling it answers UNIMPLEMENTED."""

    name: str
    reason: str
    source: str = ""

    def refuse(self) -> Unimplemented:
        return Unimplemented(f"{self.name}: {self.reason}")


@dataclass(frozen=True, slots=True)
class Catalog:
    queries: Mapping[str, NamedQuery | Unsupported] = field(default_factory=dict)
    operations: Mapping[str, NamedOperation | Unsupported] = field(default_factory=dict)
    source: str = ""
    #: collection → its vector field (a ``type: vector`` field under ``tables:``); others use ``embedding``.
    vector_fields: Mapping[str, VectorField] = field(default_factory=dict)
    #: Secondary indexes to build (``indexes:``, and ``indexed``/``text`` fields under ``tables:``).
    indexes: tuple[IndexSpec, ...] = ()

    def unsupported(self) -> list[Unsupported]:
        entries = [*self.queries.values(), *self.operations.values()]
        return [entry for entry in entries if isinstance(entry, Unsupported)]
