"""Criteria templates: the YAML form of ``QueryCriteria``, with ``$param`` placeholders.

::

    criteria:
      and:
        - equals: {field: status, value: active}
        - range: {field: age, min: $min_age, max: $max_age}
        - in: {field: tag, values: $tags}
        - text_search: {fields: [title, body], query: $q, analyzer: english}
        - or: [{greater_than: {field: n, value: 5}}, {less_than: {field: n, value: 0}}]
        - match: $filters        # equality on every key of an object parameter

After substitution a node whose parameter was not given is dropped (an open
range end just opens that side), so one definition serves optional filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.named.definitions import ABSENT
from server.store import And, Compare, Criteria, Equals, Field, In, InvalidArgument, Or, TextSearch, range_of

#: node kind → keys it takes (the first ones are required)
NODE_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "equals": (("field", "value"), ()),
    "greater_than": (("field", "value"), ()),
    "less_than": (("field", "value"), ()),
    "range": (("field",), ("min", "max")),
    "in": (("field", "values"), ()),
    "text_search": (("query",), ("fields", "analyzer")),
}
COMBINATORS = ("and", "or")


def check(node: Any, where: str) -> None:
    """Refuse a template that cannot describe criteria (at load time, before any call)."""
    if not isinstance(node, Mapping) or len(node) != 1:
        raise ValueError(f"{where}: a criteria node is a mapping with exactly one key")
    ((kind, body),) = node.items()
    if kind in COMBINATORS:
        if not isinstance(body, list):
            raise ValueError(f"{where}: '{kind}' takes a list of criteria")
        for index, item in enumerate(body):
            check(item, f"{where}.{kind}[{index}]")
        return
    if kind == "match":
        if not (isinstance(body, str) and body.startswith("$")) and not isinstance(body, Mapping):
            raise ValueError(f"{where}: 'match' takes an object or a $parameter")
        return
    if kind not in NODE_KEYS:
        raise ValueError(f"{where}: unknown criteria kind {kind!r} (known: {', '.join([*NODE_KEYS, *COMBINATORS])})")
    required, optional = NODE_KEYS[kind]
    if not isinstance(body, Mapping):
        raise ValueError(f"{where}: '{kind}' takes a mapping")
    missing = [key for key in required if key not in body]
    extra = [key for key in body if key not in required and key not in optional]
    if missing or extra:
        raise ValueError(f"{where}: '{kind}' needs {list(required)}, may have {list(optional)}; got {list(body)}")


def build(node: Any) -> Criteria | None:
    """Criteria from a substituted template; None when every filter in it was dropped."""
    ((kind, body),) = node.items()
    if kind in COMBINATORS:
        items = tuple(item for item in (build(child) for child in body) if item is not None)
        if not items:
            return None
        return And(items) if kind == "and" else Or(items)
    if kind == "match":
        if body is ABSENT:
            return None
        if not isinstance(body, Mapping):
            raise InvalidArgument("a 'match' parameter must be an object of field: value")
        equalities = tuple(Equals(Field.parse(str(name)), value) for name, value in body.items())
        return And(equalities) if equalities else None
    if kind == "range":
        low, high = body.get("min", ABSENT), body.get("max", ABSENT)
        if low is ABSENT and high is ABSENT:
            return None
        return range_of(Field.parse(body["field"]), None if low is ABSENT else low, None if high is ABSENT else high)
    if kind == "text_search":
        if body["query"] is ABSENT:
            return None
        return TextSearch(
            tuple(Field.parse(name) for name in body.get("fields") or ()),
            str(body["query"]),
            str(body.get("analyzer") or "simple"),
        )
    value_key = "values" if kind == "in" else "value"
    if body[value_key] is ABSENT:
        return None
    target = Field.parse(body["field"])
    if kind == "equals":
        return Equals(target, body["value"])
    if kind == "in":
        if not isinstance(body["values"], list):
            raise InvalidArgument(f"'in' on {target} needs a list of values")
        return In(target, tuple(body["values"]))
    return Compare(target, ">" if kind == "greater_than" else "<", body["value"])
