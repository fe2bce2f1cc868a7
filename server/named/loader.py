"""Reading named queries and operations from YAML: the legacy platform file as it is,
and the explicit form for new definitions.

A query or operation is in the explicit form when it names a ``collection``
(queries) or its steps are ``{insert|update|update_where|delete|soft_delete: {...}}``
mappings; otherwise it is read as the legacy platform wrote it (``table`` +
``type``), translated with the table's schema from ``tables:``. Entries that
have no meaning on one PostgreSQL table become :class:`Unsupported`; a file
that cannot be read at all raises :class:`CatalogError` naming file and line.
``docs/named.md`` describes both forms and every legacy entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from server.named import templates
from server.named.definitions import (
    ABSENT,
    PARAMETER_TYPES,
    Catalog,
    NamedOperation,
    NamedQuery,
    Parameter,
    Parameters,
    Step,
    Unsupported,
)
from server.store import Field, StoreError
from server.store.indexes import IndexSpec
from server.store.vectors import DEFAULT_METRIC, MAX_DIMENSIONS, METRICS, VectorField

PAGING = {"limit": "integer", "skip": "integer", "offset": "integer"}
STEP_KINDS = ("insert", "update", "update_where", "delete", "soft_delete")
DEFAULT_CACHE_TTL = 300.0

#: Legacy step operations that meant another technology, and what they mean on one table.
NO_OP_STEPS = {
    "create_search_index": "full-text search reads the documents table directly; there is no index to feed",
    "update_search_index": "full-text search reads the documents table directly; there is no index to feed",
    "delete_search_entries": "full-text search reads the documents table directly; nothing else to delete",
    "invalidate_cache": "every write already invalidates cached answers of its collection",
    "clear_cache": "every write already invalidates cached answers of its collection",
    "create_graph_node": "graph nodes are the documents themselves; no separate node is made",
    "update_graph_properties": "graph nodes are the documents themselves; their properties are their data",
    "update_analytics": "analytics read the documents table; there is no separate warehouse to feed",
    "archive_analytics": "analytics read the documents table; there is no separate warehouse to archive",
}

#: Legacy query types with no meaning on one table, and why.
UNSUPPORTED_QUERY_TYPES = {
    "aggregation_pipeline": "MongoDB aggregation pipelines have no equivalent here; define an explicit query",
    "hybrid_vector_text": "hybrid vector+text ranking is not available",
    "faceted_search": "faceted search (Elasticsearch facets) is not available",
    "olap_query": "OLAP aggregations over the data lake are not available",
    "time_series_analysis": "data-lake time-series analysis is not available",
}
PENDING_QUERY_TYPES = {
    "graph_traversal": "graph traversals answer nodes and edges, not records: call GraphTraverse"
    " (BREADTH_FIRST with relationship_types and max_depth; edges in the '<table>.edges' collection)",
    "shortest_path": "graph shortest paths answer nodes and edges, not records: call GraphTraverse"
    " (SHORTEST_PATH with node_filter selecting the target; edges in the '<table>.edges' collection)",
}


class CatalogError(Exception):
    """The file cannot be used; the message names the file, the line and the problem."""


class _LineDict(dict[Any, Any]):
    line: int = 0


class _Loader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping, for error messages."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    mapping = _LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass
class _Context:
    path: str

    def at(self, node: Any) -> str:
        return f"{self.path}:{getattr(node, 'line', '?')}"

    def fail(self, node: Any, problem: str) -> CatalogError:
        return CatalogError(f"{self.at(node)}: {problem}")


def load(path: str | Path) -> Catalog:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read ({exc.strerror})") from exc
    return parse(text, str(path))


def parse(text: str, source: str = "<config>") -> Catalog:
    context = _Context(source)
    try:
        document = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}" if mark is not None else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        raise CatalogError(f"{source}:{line}: not valid YAML: {problem}") from exc
    if document is None:
        return Catalog(source=source)
    if not isinstance(document, Mapping):
        raise CatalogError(f"{source}:1: expected a mapping at the top")
    root = document.get("persistence_platform", document)
    if not isinstance(root, Mapping):
        raise context.fail(document, "'persistence_platform' must be a mapping")
    tables = _section(context, root, "tables")
    queries = {
        name: _query(context, str(name), entry, tables) for name, entry in _section(context, root, "queries").items()
    }
    operations = {
        name: _operation(context, str(name), entry, tables)
        for name, entry in _section(context, root, "operations").items()
    }
    vector_fields = {}
    for table_name in tables:
        vector = _vector_field(context, tables, str(table_name))
        if vector is not None:
            vector_fields[str(table_name)] = vector
    return Catalog(
        queries=queries,
        operations=operations,
        source=source,
        vector_fields=vector_fields,
        indexes=_indexes(context, root, tables),
    )


def _section(context: _Context, root: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    section = root.get(key) or {}
    if not isinstance(section, Mapping):
        raise context.fail(root, f"'{key}' must be a mapping of name: definition")
    for name, entry in section.items():
        if not isinstance(entry, Mapping):
            raise context.fail(section, f"{key}.{name} must be a mapping")
    return section


# -- shared pieces -------------------------------------------------------------------


def parse_duration(text: Any) -> float:
    """``30s``, ``5m``, ``1h``, ``2d`` (or a number of seconds) → seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m or 1h")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def _cache_ttl(context: _Context, entry: Mapping[str, Any]) -> float | None:
    strategy = entry.get("cache_strategy")
    if strategy == "none":
        return None
    if strategy is None and "cache_ttl" not in entry:
        return None
    try:
        return parse_duration(entry.get("cache_ttl", DEFAULT_CACHE_TTL))
    except ValueError as exc:
        raise context.fail(entry, f"cache_ttl: {exc}") from None


def _declared(context: _Context, entry: Mapping[str, Any]) -> Parameters:
    """The explicit form's ``parameters: {name: type | {type, required, default}}``."""
    spec = entry.get("parameters") or {}
    if not isinstance(spec, Mapping):
        raise context.fail(entry, "parameters must be a mapping of name: type")
    declared = []
    for name, kind in spec.items():
        if isinstance(kind, Mapping):
            options = kind
            kind = options.get("type", "any")
            default = options.get("default", ABSENT)
            required = bool(options.get("required", default is ABSENT))
        else:
            default, required = ABSENT, True
        if kind not in PARAMETER_TYPES:
            raise context.fail(spec, f"parameter {name!r}: unknown type {kind!r} (one of {', '.join(PARAMETER_TYPES)})")
        declared.append(Parameter(str(name), str(kind), required, default))
    return Parameters(tuple(declared))


def _order(context: _Context, entry: Mapping[str, Any]) -> tuple[tuple[str, bool], ...]:
    items = entry.get("order_by") or []
    result = []
    for item in items if isinstance(items, list) else [items]:
        if isinstance(item, str):
            result.append((item.lstrip("-"), not item.startswith("-")))
        elif isinstance(item, Mapping) and "field" in item:
            result.append((str(item["field"]), bool(item.get("ascending", True))))
        else:
            raise context.fail(entry, f"order_by item {item!r}: use 'field', '-field' or {{field, ascending}}")
    return tuple(result)


# -- indexes -------------------------------------------------------------------------


def _indexes(context: _Context, root: Mapping[str, Any], tables: Mapping[str, Any]) -> tuple[IndexSpec, ...]:
    """Explicit ``indexes:`` entries, then what the legacy ``tables:`` schemas ask for:
    a value index per ``indexed`` field, a full-text index over the ``text`` fields."""
    specs: list[IndexSpec] = []
    entries = root.get("indexes") or []
    if not isinstance(entries, list):
        raise context.fail(
            root,
            "'indexes' must be a list of {collection, field}, {collection, text: [...]},"
            " {collection, equality: true} or {collection, equality: [...]}",
        )
    for entry in entries:
        try:
            if not isinstance(entry, Mapping) or "collection" not in entry:
                raise ValueError("an index needs a collection and a field (or text fields)")
            if "text" in entry:
                fields = entry["text"]
                if not isinstance(fields, list):
                    raise ValueError("'text' lists the fields to search")
                specs.append(
                    IndexSpec(
                        str(entry["collection"]), "text", tuple(map(str, fields)), str(entry.get("analyzer", "simple"))
                    )
                )
            elif "equality" in entry:
                equality = entry["equality"]
                if equality is True:
                    specs.append(IndexSpec(str(entry["collection"]), "equality", ()))
                elif isinstance(equality, list) and equality and all(isinstance(f, str) for f in equality):
                    specs.append(IndexSpec(str(entry["collection"]), "equality", tuple(equality)))
                else:
                    raise ValueError(
                        "'equality: true' gives the collection its own index for equality filters;"
                        " 'equality: [field, ...]' one for filters of equalities on exactly those fields"
                    )
            else:
                specs.append(IndexSpec(str(entry["collection"]), "value", (str(entry["field"]),)))
        except (ValueError, KeyError, StoreError) as exc:
            raise context.fail(entry, f"indexes: {exc}") from None
    for table in tables:
        schema = _schema(tables, str(table))
        for name, spec in schema.items():
            if isinstance(spec, Mapping) and spec.get("indexed") and Field.parse(str(name)).column is None:
                specs.append(IndexSpec(str(table), "value", (str(name),)))
        text_fields = [str(f) for f, spec in schema.items() if isinstance(spec, Mapping) and spec.get("type") == "text"]
        if text_fields and _queried_by_text(root, str(table)):
            specs.append(IndexSpec(str(table), "text", tuple(text_fields)))
    specs.extend(_legacy_query_indexes(root))
    return tuple(dict.fromkeys(specs))


def _legacy_query_indexes(root: Mapping[str, Any]) -> list[IndexSpec]:
    """An equality index for each legacy equality query whose ``indexes`` name its filter fields.

    A ``document_query`` or ``scan_by_index`` becomes equalities on its
    parameters in the default order (``created_at, id``): ``indexes:
    [author_id, created_at]`` over ``parameters: [author_id, limit, skip]``
    asks for exactly what an equality index over ``author_id`` holds. Other
    ``indexes`` lists are left out, as before.
    """
    queries = root.get("queries")
    specs: list[IndexSpec] = []
    for entry in queries.values() if isinstance(queries, Mapping) else ():
        if not isinstance(entry, Mapping) or entry.get("type") not in ("document_query", "scan_by_index"):
            continue
        declared, table = entry.get("indexes"), entry.get("table")
        if not isinstance(table, str) or not isinstance(declared, list):
            continue
        if not all(isinstance(field_name, str) for field_name in declared):
            continue
        filters = [str(p) for p in entry.get("parameters") or [] if p not in PAGING]
        named = [field_name for field_name in declared if field_name != "created_at"]
        ordered_last = "created_at" not in declared or declared.index("created_at") == len(declared) - 1
        if not filters or sorted(named) != sorted(filters) or not ordered_last:
            continue
        try:
            specs.append(IndexSpec(table, "equality", tuple(filters)))
        except StoreError:
            continue  # a record column (its index exists already), or a field named twice
    return specs


def _queried_by_text(root: Mapping[str, Any], table: str) -> bool:
    """Only tables a legacy full_text_search query reads get a full-text index."""
    queries = root.get("queries") or {}
    return any(
        isinstance(q, Mapping) and q.get("table") == table and q.get("type") == "full_text_search"
        for q in queries.values()
    )


# -- queries -------------------------------------------------------------------------


def _query(context: _Context, name: str, entry: Mapping[str, Any], tables: Mapping[str, Any]) -> Any:
    if "collection" in entry:
        return _explicit_query(context, name, entry)
    return _legacy_query(context, name, entry, tables)


def _explicit_query(context: _Context, name: str, entry: Mapping[str, Any]) -> NamedQuery:
    criteria = entry.get("criteria")
    if criteria is not None:
        try:
            templates.check(criteria, f"queries.{name}.criteria")
        except ValueError as exc:
            raise context.fail(criteria if hasattr(criteria, "line") else entry, str(exc)) from None
    projections = entry.get("projections") or []
    if not isinstance(projections, list) or not all(isinstance(p, str) for p in projections):
        raise context.fail(entry, f"queries.{name}.projections must be a list of field paths")
    return NamedQuery(
        name=name,
        collection=str(entry["collection"]),
        parameters=_declared(context, entry),
        criteria=criteria,
        order_by=_order(context, entry),
        limit=entry.get("limit"),
        offset=entry.get("offset", 0),
        projections=tuple(projections),
        include_deleted=bool(entry.get("include_deleted", False)),
        count_only=bool(entry.get("count", False)),
        cache_ttl=_cache_ttl(context, entry),
        source=context.at(entry),
    )


def _schema(tables: Mapping[str, Any], table: str) -> Mapping[str, Any]:
    schema = (tables.get(table) or {}).get("schema") or {}
    return schema if isinstance(schema, Mapping) else {}


def _field_with(schema: Mapping[str, Any], flag: str) -> str | None:
    for field_name, spec in schema.items():
        if isinstance(spec, Mapping) and spec.get(flag):
            return str(field_name)
    return None


def _legacy_query(context: _Context, name: str, entry: Mapping[str, Any], tables: Mapping[str, Any]) -> Any:
    kind = entry.get("type")
    table = entry.get("table")
    if not isinstance(kind, str):
        raise context.fail(entry, f"queries.{name}: needs 'type' (legacy form) or 'collection' (explicit form)")
    if kind in UNSUPPORTED_QUERY_TYPES:
        return Unsupported(name, UNSUPPORTED_QUERY_TYPES[kind], context.at(entry))
    if kind in PENDING_QUERY_TYPES:
        return Unsupported(name, PENDING_QUERY_TYPES[kind], context.at(entry))
    if not isinstance(table, str):
        raise context.fail(entry, f"queries.{name}: a {kind} query needs a 'table'")
    names = [str(p) for p in entry.get("parameters") or []]
    schema = _schema(tables, table)
    ttl = _cache_ttl(context, entry)
    common: dict[str, Any] = {"name": name, "collection": table, "cache_ttl": ttl, "source": context.at(entry)}

    def params(*specs: Parameter) -> Parameters:
        declared = {p.name: p for p in specs}
        for extra in names:
            declared.setdefault(extra, Parameter(extra, "scalar"))
        return Parameters(tuple(declared.values()))

    def paging(default_limit: int | None = None) -> list[Parameter]:
        return [
            Parameter(
                p, PAGING[p], required=False, default=ABSENT if p != "limit" or default_limit is None else default_limit
            )
            for p in names
            if p in PAGING
        ]

    if kind == "point_lookup":
        if not names:
            raise context.fail(entry, f"queries.{name}: point_lookup needs the id parameter")
        return NamedQuery(
            parameters=params(Parameter(names[0], "scalar")),
            criteria={"equals": {"field": "id", "value": f"${names[0]}"}},
            limit=1,
            **common,
        )
    if kind in ("document_query", "scan_by_index"):
        filters = [p for p in names if p not in PAGING]
        return NamedQuery(
            parameters=params(*[Parameter(p, "scalar") for p in filters], *paging()),
            criteria={"and": [{"equals": {"field": p, "value": f"${p}"}} for p in filters]},
            limit="$limit" if "limit" in names else None,
            offset="$skip" if "skip" in names else ("$offset" if "offset" in names else 0),
            **common,
        )
    if kind in ("range_scan", "latest_events"):
        partition, clustering = _field_with(schema, "partition_key"), _field_with(schema, "clustering_key")
        if partition is None or clustering is None:
            return Unsupported(name, f"table {table!r} declares no partition_key and clustering_key", context.at(entry))
        bounds = [Parameter(p, "timestamp", required=False) for p in names if p in ("start_time", "end_time")]
        latest = kind == "latest_events"
        return NamedQuery(
            parameters=params(
                Parameter(partition, "scalar"), *bounds, *paging(_latest_limit(tables, table) if latest else None)
            ),
            criteria={
                "and": [
                    {"equals": {"field": partition, "value": f"${partition}"}},
                    {"range": {"field": clustering, "min": "$start_time", "max": "$end_time"}}
                    if bounds
                    else {"and": []},
                ]
            },
            order_by=((clustering, not latest),),
            limit="$limit" if "limit" in names else (_latest_limit(tables, table) if latest else None),
            **common,
        )
    if kind == "vector_similarity":
        return _vector_query(context, name, entry, tables, table, names, common)
    if kind == "full_text_search":
        text_fields = [f for f, spec in schema.items() if isinstance(spec, Mapping) and spec.get("type") == "text"]
        return NamedQuery(
            parameters=params(
                Parameter("query", "string"),
                Parameter("filters", "object", required=False),
                *paging(),
            ),
            criteria={
                "and": [
                    {"text_search": {"fields": text_fields, "query": "$query", "analyzer": "simple"}},
                    {"match": "$filters"},
                ]
            },
            limit="$limit" if "limit" in names else None,
            offset="$offset" if "offset" in names else ("$skip" if "skip" in names else 0),
            **common,
        )
    return Unsupported(name, f"query type {kind!r} has no meaning on the documents table", context.at(entry))


def _vector_field(context: _Context, tables: Mapping[str, Any], table: str) -> VectorField | None:
    """The table's ``type: vector`` field, its ``dimensions`` and ``vector_config.distance_metric``."""
    schema = _schema(tables, table)
    for field_name, spec in schema.items():
        if isinstance(spec, Mapping) and spec.get("type") == "vector":
            dimensions = spec.get("dimensions")
            where = f"tables.{table}.schema.{field_name}"
            if dimensions is not None and (not isinstance(dimensions, int) or isinstance(dimensions, bool)):
                raise context.fail(spec, f"{where}: dimensions must be a whole number")
            if dimensions is not None and not 1 <= dimensions <= MAX_DIMENSIONS:
                raise context.fail(spec, f"{where}: dimensions must be 1 to {MAX_DIMENSIONS}")
            config = (tables.get(table) or {}).get("vector_config") or {}
            metric = str(config.get("distance_metric") or DEFAULT_METRIC) if isinstance(config, Mapping) else ""
            if metric.lower() not in METRICS:
                raise context.fail(config, f"tables.{table}.vector_config: unknown distance_metric {metric!r}")
            return VectorField(str(field_name), dimensions, metric.lower())
    return None


def _vector_query(
    context: _Context,
    name: str,
    entry: Mapping[str, Any],
    tables: Mapping[str, Any],
    table: str,
    names: list[str],
    common: dict[str, Any],
) -> Any:
    """``semantic_search`` (query_vector, limit, threshold) and ``find_similar_documents`` (document_id, limit)."""
    vector = _vector_field(context, tables, table) or VectorField()
    metric = str(entry.get("distance_metric") or vector.metric).lower()
    if metric not in METRICS:
        raise context.fail(entry, f"queries.{name}: unknown distance_metric {metric!r}")
    search: dict[str, Any] = {"field": vector.field, "limit": "$limit", "distance_metric": metric}
    if vector.dimensions is not None:
        search["dimensions"] = vector.dimensions
    limit = Parameter("limit", "integer", required=False)
    if "query_vector" in names:
        search.update(query_vector="$query_vector", threshold="$threshold")
        threshold = Parameter("threshold", "number", required=False, default=_vector_threshold(tables, table))
        declared = [Parameter("query_vector", "array"), limit, threshold]
    elif "document_id" in names:
        search["like"] = "$document_id"
        declared = [Parameter("document_id", "scalar"), limit]
    else:
        return Unsupported(name, "a vector_similarity query needs query_vector or document_id", context.at(entry))
    accepted = {p.name: p for p in declared}
    for extra in names:
        accepted.setdefault(extra, Parameter(extra, "scalar"))
    return NamedQuery(parameters=Parameters(tuple(accepted.values())), criteria={"vector_search": search}, **common)


def _vector_threshold(tables: Mapping[str, Any], table: str) -> Any:
    """The table's ``access_patterns: [{type: vector_similarity, threshold: ...}]``, the default threshold."""
    for pattern in (tables.get(table) or {}).get("access_patterns") or []:
        if isinstance(pattern, Mapping) and pattern.get("type") == "vector_similarity" and "threshold" in pattern:
            return float(pattern["threshold"])
    return ABSENT


def _latest_limit(tables: Mapping[str, Any], table: str) -> int:
    for pattern in (tables.get(table) or {}).get("access_patterns") or []:
        if isinstance(pattern, Mapping) and pattern.get("type") == "latest_events" and "limit" in pattern:
            return int(pattern["limit"])
    return 100


# -- operations ----------------------------------------------------------------------


def _operation(context: _Context, name: str, entry: Mapping[str, Any], tables: Mapping[str, Any]) -> Any:
    steps = entry.get("steps")
    if isinstance(steps, list) and steps and all(_is_explicit_step(step) for step in steps):
        return _explicit_operation(context, name, entry, steps)
    return _legacy_operation(context, name, entry, tables)


def _is_explicit_step(step: Any) -> bool:
    return isinstance(step, Mapping) and len(step) == 1 and next(iter(step)) in STEP_KINDS


def _explicit_operation(context: _Context, name: str, entry: Mapping[str, Any], steps: list[Any]) -> NamedOperation:
    parsed = []
    for index, step in enumerate(steps):
        ((kind, body),) = step.items()
        where = f"operations.{name}.steps[{index}]"
        if not isinstance(body, Mapping) or "collection" not in body:
            raise context.fail(step, f"{where}: '{kind}' needs a mapping with a collection")
        if kind in ("update", "soft_delete", "delete") and "id" not in body and "criteria" not in body:
            raise context.fail(step, f"{where}: '{kind}' needs an id or criteria")
        if kind in ("update", "update_where") and "updates" not in body:
            raise context.fail(step, f"{where}: '{kind}' needs updates")
        if kind == "update" and "criteria" in body:
            raise context.fail(step, f"{where}: 'update' takes an id; use update_where for criteria")
        if "criteria" in body:
            try:
                templates.check(body["criteria"], f"{where}.criteria")
            except ValueError as exc:
                raise context.fail(step, str(exc)) from None
        arguments = {key: value for key, value in body.items() if key != "collection"}
        parsed.append(Step(kind, str(body["collection"]), arguments))
    return NamedOperation(name, _declared(context, entry), tuple(parsed), context.at(entry))


def _legacy_operation(context: _Context, name: str, entry: Mapping[str, Any], tables: Mapping[str, Any]) -> Any:
    kind = entry.get("type")
    table = entry.get("table")
    source = context.at(entry)
    side_steps = [*(entry.get("side_effects") or []), *(entry.get("cascade") or [])]
    if kind in ("distributed_transaction", "async_pipeline"):
        steps = []
        declared = []
        for step in entry.get("steps") or []:
            if isinstance(step, Mapping) and step.get("operation") == "insert" and step.get("table"):
                step_table = str(step["table"])
                steps.append(Step("insert", step_table, _legacy_insert_args(tables, step_table, f"${step_table}")))
                declared.append(Parameter(step_table, "object"))
            else:
                steps.append(_technology_step(step))
        return _checked(name, source, Parameters(tuple(declared)), steps)
    if not isinstance(table, str):
        return Unsupported(name, f"operation type {kind!r} has no meaning on the documents table", source)
    if kind == "insert":
        fields = tuple(Parameter(str(f), "any", required=False) for f in _schema(tables, table))
        parameters = Parameters(fields, accept_any=not fields)
        steps = [Step("insert", table, _legacy_insert_args(tables, table, "$$all")), *map(_technology_step, side_steps)]
        return _checked(name, source, parameters, steps)
    if kind == "update":
        parameters = Parameters(
            (
                Parameter("id", "scalar"),
                Parameter("updates", "object"),
                Parameter("expected_version", "integer", required=False),
            )
        )
        update = Step(
            "update",
            table,
            {"id": "$id", "updates": "$updates", "expected_version": "$expected_version"},
            note="conditions are not evaluated: " + ", ".join(entry.get("conditions") or [])
            if entry.get("conditions")
            else "",
        )
        return _checked(name, source, parameters, [update, *map(_technology_step, side_steps)])
    if kind in ("soft_delete", "delete"):
        parameters = Parameters((Parameter("id", "scalar"),))
        main = Step(kind, table, {"id": "$id"})
        return _checked(name, source, parameters, [main, *map(_technology_step, side_steps)])
    return Unsupported(name, f"operation type {kind!r} has no meaning on the documents table", source)


def _legacy_insert_args(tables: Mapping[str, Any], table: str, data: str) -> dict[str, Any]:
    """Insert ``data``; the table's primary_key field, when the document has it, is its id."""
    key = _field_with(_schema(tables, table), "primary_key")
    return {"data": data, "id_field": key} if key else {"data": data}


#: Cascade steps of the legacy file that change documents, as the name says.
CASCADE_STEPS = {
    "anonymize_user_events": Step(
        "update_where",
        "user_events",
        {"criteria": {"equals": {"field": "user_id", "value": "$id"}}, "updates": {"user_id": None}},
        note="the user's events keep their data but lose their user_id",
    ),
    "remove_graph_relationships": Step(
        "delete",
        "user_relationships.edges",
        {
            "criteria": {
                "or": [
                    {"equals": {"field": "source_id", "value": "$id"}},
                    {"equals": {"field": "target_id", "value": "$id"}},
                ]
            }
        },
        note="edges touching the user are deleted from the graph's edge collection",
    ),
}


def _technology_step(step: Any) -> Step:
    operation = str(step.get("operation")) if isinstance(step, Mapping) else str(step)
    if operation in CASCADE_STEPS:
        return CASCADE_STEPS[operation]
    if operation in NO_OP_STEPS:
        return Step("noop", note=f"{operation}: {NO_OP_STEPS[operation]}")
    return Step("unsupported", note=f"step {operation!r} has no meaning on the documents table")


def _checked(name: str, source: str, parameters: Parameters, steps: list[Step]) -> Any:
    for step in steps:
        if step.kind == "unsupported":
            return Unsupported(name, step.note, source)
    return NamedOperation(name, parameters, tuple(steps), source)
