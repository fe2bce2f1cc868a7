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
        - vector_search: {field: embedding, query_vector: $v, limit: $k, threshold: $t, distance_metric: cosine}

``vector_search`` ranks instead of filtering (nearest first, the best ``limit``);
it takes ``query_vector`` or ``like`` (a document id whose vector is used, that
document left out), optionally ``dimensions`` (the collection's, checked).

After substitution a node whose parameter was not given is dropped (an open
range end just opens that side), so one definition serves optional filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.named.definitions import ABSENT
from server.store import And, Compare, Criteria, Equals, Field, In, InvalidArgument, Or, TextSearch, range_of
from server.store.criteria import VectorNearest

#: node kind → keys it takes (the first ones are required)
NODE_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "equals": (("field", "value"), ()),
    "greater_than": (("field", "value"), ()),
    "less_than": (("field", "value"), ()),
    "range": (("field",), ("min", "max")),
    "in": (("field", "values"), ()),
    "text_search": (("query",), ("fields", "analyzer")),
    "vector_search": ((), ("field", "query_vector", "like", "limit", "threshold", "distance_metric", "dimensions")),
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
    if kind == "vector_search" and ("query_vector" in body) == ("like" in body):
        raise ValueError(f"{where}: 'vector_search' takes either query_vector or like")


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
    if kind == "vector_search":
        return _vector_search(body)
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


def _vector_search(body: Mapping[str, Any]) -> Criteria:
    def given(key: str) -> Any:
        value = body.get(key, ABSENT)
        return None if value is ABSENT else value

    vector, like, limit = given("query_vector"), given("like"), given("limit")
    if "query_vector" in body and not isinstance(vector, list):
        raise InvalidArgument("vector_search: query_vector must be a list of numbers")
    if "like" in body and like is None:
        raise InvalidArgument("vector_search: like needs a document id")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise InvalidArgument("vector_search: limit must be a whole number")
    threshold = given("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
        raise InvalidArgument("vector_search: threshold must be a number")
    dimensions = given("dimensions")
    return VectorNearest(
        field=Field.parse(str(body["field"])) if given("field") else None,
        vector=tuple(vector or ()),
        limit=limit or 0,
        threshold=None if threshold is None else float(threshold),
        metric=str(given("distance_metric") or ""),
        like_id=None if like is None else str(like),
        dimensions=None if dimensions is None else int(dimensions),
    )
