"""Running named queries and operations against the store.

A query becomes one store read (answers may come from the query cache, see
``server.query_cache``); an operation runs all its steps in ONE PostgreSQL
transaction, so a failing step leaves nothing of the earlier ones.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from server.named import templates
from server.named.definitions import ABSENT, Catalog, NamedOperation, NamedQuery, Step, Unsupported, substitute
from server.query_cache import QueryCache
from server.store import AsyncDocumentStore, Field, InvalidArgument, MatchAll, NewDocument, NotFound, OrderBy, Query
from server.store.async_store import AsyncOperations, AsyncTransaction
from server.store.changes import ChangeFeed
from server.store.criteria import Equals

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Answer:
    payload: bytes
    from_cache: bool


def plan(definition: NamedQuery, parameters: Mapping[str, Any]) -> Query:
    """The store query a named query means for these parameters."""
    bound = definition.parameters.bind(parameters)
    criteria = MatchAll() if definition.criteria is None else templates.build(substitute(definition.criteria, bound))
    return Query(
        criteria=criteria or MatchAll(),
        order_by=tuple(OrderBy(Field.parse(name), ascending) for name, ascending in definition.order_by),
        limit=_whole(substitute(definition.limit, bound), "limit"),
        offset=_whole(substitute(definition.offset, bound), "offset") or 0,
        projections=tuple(Field.parse(name) for name in definition.projections),
        include_deleted=definition.include_deleted,
    )


def _whole(value: Any, what: str) -> int | None:
    if value is None or value is ABSENT:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{what} must be a whole number")
    return value


class NamedExecutor:
    """Looks definitions up in the current catalog (replaced whole on reload) and runs them."""

    def __init__(self, catalog: Catalog, cache: QueryCache | None = None, feed: ChangeFeed | None = None) -> None:
        self.catalog = catalog
        self.cache = cache
        self.feed = feed

    def _query(self, name: str) -> NamedQuery:
        definition = self.catalog.queries.get(name)
        if definition is None:
            raise NotFound(f"no query named {name!r}")
        if isinstance(definition, Unsupported):
            raise definition.refuse()
        return definition

    async def query(
        self,
        store: AsyncDocumentStore,
        name: str,
        parameters: Mapping[str, Any],
        encode: Callable[[Any], bytes],
    ) -> Answer:
        """Run a named query; ``encode`` turns documents (or a count) into the wire answer."""
        definition = self._query(name)
        query = plan(definition, parameters)
        scope = (store.statements.tenant, definition.collection)
        use_cache = definition.cache_ttl is not None and self.cache is not None and self.feed is not None
        if use_cache:
            assert self.cache is not None and self.feed is not None
            use_cache = await self.feed.sync()
        if use_cache:
            assert self.cache is not None
            key = (scope[0], name, json.dumps(parameters, sort_keys=True, default=str))
            cached = self.cache.get(key)
            if cached is not None:
                return Answer(cached, True)
            marker = self.cache.epoch(scope)
        result = await _read(store, definition, query)
        payload = encode(result)
        if use_cache:
            assert self.cache is not None and definition.cache_ttl is not None
            self.cache.put(key, scope, payload, definition.cache_ttl, marker)
        return Answer(payload, False)

    async def operation(
        self, target: AsyncDocumentStore | AsyncTransaction, name: str, parameters: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[str]]:
        """Run every step in one transaction (``target``'s, when it is one); returns
        (result per step, collections touched)."""
        definition = self.catalog.operations.get(name)
        if definition is None:
            raise NotFound(f"no operation named {name!r}")
        if isinstance(definition, Unsupported):
            raise definition.refuse()
        bound = definition.parameters.bind(parameters)
        if isinstance(target, AsyncTransaction):
            return await _run_steps(target, definition, bound)
        async with target.transaction() as tx:
            return await _run_steps(tx, definition, bound)


async def _run_steps(
    tx: AsyncTransaction, definition: NamedOperation, bound: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    results: dict[str, Any] = {}
    touched: list[str] = []
    for index, step in enumerate(definition.steps, start=1):
        results[f"step_{index}"] = await _run_step(tx, definition, step, bound)
        if step.kind != "noop" and step.collection not in touched:
            touched.append(step.collection)
    return results, touched


async def _read(store: AsyncDocumentStore, definition: NamedQuery, query: Query) -> Any:
    if definition.count_only:
        return await store.count(definition.collection, query)
    return await store.find(definition.collection, query)


def _without_absent(value: Any) -> Any:
    """Leave out object keys whose optional parameter was not given."""
    if isinstance(value, dict):
        return {key: _without_absent(item) for key, item in value.items() if item is not ABSENT}
    if isinstance(value, list):
        return [_without_absent(item) for item in value if item is not ABSENT]
    return value


async def _run_step(tx: AsyncOperations, operation: NamedOperation, step: Step, bound: Mapping[str, Any]) -> Any:
    arguments = substitute(dict(step.arguments), bound)
    for key in ("data", "updates"):
        if key in arguments:
            arguments[key] = _without_absent(arguments[key])
    where = f"{operation.name}: step {step.kind} {step.collection}".rstrip()
    summary: dict[str, Any] = {"operation": step.kind}
    if step.collection:
        summary["collection"] = step.collection
    if step.note:
        summary["note"] = step.note
    if step.kind == "noop":
        return summary
    if step.kind == "insert":
        data = arguments.get("data")
        if not isinstance(data, dict):
            raise InvalidArgument(f"{where}: the document must be an object")
        doc_id = arguments.get("id", ABSENT)
        id_field = step.arguments.get("id_field")
        if doc_id is ABSENT and id_field and data.get(id_field) is not None:
            doc_id = data[id_field]
        new = NewDocument(data, id=None if doc_id is ABSENT or doc_id is None else str(doc_id))
        (document,) = await tx.create_many(step.collection, [new])
        summary.update(id=document.id, version=document.version)
        return summary
    if step.kind == "update":
        expected = arguments.get("expected_version", ABSENT)
        document = await tx.update(
            step.collection,
            _required_id(arguments, where),
            _object(arguments.get("updates"), where),
            expected_version=None if expected is ABSENT else expected,
        )
        summary.update(id=document.id, version=document.version)
        return summary
    query = _step_query(arguments, where)
    if step.kind == "update_where":
        summary["updated"] = await tx.update_where(step.collection, query, _object(arguments.get("updates"), where))
    elif step.kind == "delete":
        summary["deleted"] = await tx.delete_where(step.collection, query)
    elif step.kind == "soft_delete":
        summary["soft_deleted"] = await tx.soft_delete(step.collection, query)
    else:
        raise InvalidArgument(f"{where}: unknown step kind")
    return summary


def _required_id(arguments: Mapping[str, Any], where: str) -> str:
    value = arguments.get("id", ABSENT)
    if value is ABSENT or value is None:
        raise InvalidArgument(f"{where}: needs an id")
    return str(value)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArgument(f"{where}: updates must be an object")
    return value


def _step_query(arguments: Mapping[str, Any], where: str) -> Query:
    if "criteria" in arguments:
        criteria = templates.build(arguments["criteria"])
        if criteria is None:
            raise InvalidArgument(f"{where}: every filter was left out; refusing to touch the whole collection")
        return Query(criteria=criteria)
    return Query(criteria=Equals(Field.parse("id"), _required_id(arguments, where)))
