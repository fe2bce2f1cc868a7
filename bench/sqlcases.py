"""The store's own SQL for each benchmarked RPC: for pgbench (PostgreSQL's floor) and for EXPLAIN.

Statements come from ``server.store.statements`` exactly as the server builds
them for the RPC (``find`` for the ExecuteRawQuery queries, ``insert``,
``update``, ``delete_where``), so a change to the store's SQL changes the
floor and the plans shown with it. The values that vary from call to call are
built with *marker* values (``__P_word__``, 987654321, ...) and replaced by
pgbench expressions over ``\\set`` random variables; every other parameter
stays a bind parameter in pgbench too (``-D pN=value``, ``:pN`` in the script),
so pgbench's prepared statement is planned as the server's prepared statement is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from bench import catalogue, dataset

SqlText = str


@dataclass(frozen=True)
class Case:
    key: str
    #: Builds the statement for the given values (markers for pgbench, real values for EXPLAIN).
    build: Callable[[dict[str, Any]], Any]
    #: Marker values for pgbench, by value name.
    markers: dict[str, Any]
    #: pgbench expression for each value name.
    expressions: dict[str, str]
    #: pgbench ``\set`` lines.
    variables: tuple[str, ...]
    #: Values to EXPLAIN with: (label, values).
    samples: tuple[tuple[str, dict[str, Any]], ...] = ()
    #: SQL run once before pgbench runs this case.
    setup: tuple[str, ...] = field(default_factory=tuple)
    #: False: the statement without its ``pg_notify`` (what the change announcement costs).
    notify: bool = True


ANNOUNCE = "pg_notify('documents_changed', %s)"


def without_notify(case: Case) -> Case:
    """The same statement with its change announcement (``pg_notify``) left out."""
    return replace(case, key=f"{case.key} without pg_notify", notify=False)


def _words_array() -> str:
    return "ARRAY[" + ", ".join("'" + word + "'" for word in dataset.WORDS) + "]"


def cases(statements: Any, docs: int) -> dict[str, Case]:
    """The cases for a store ``Statements`` object (tenant ``default``)."""
    from server.store import Equals, Field, OrderBy, Query, TextSearch, range_of
    from server.store.criteria import And
    from server.store.document import NewDocument

    def find(criteria: Any, order: tuple[Any, ...] = (), limit: int = 0) -> Any:
        return Query(criteria=criteria, order_by=order, limit=limit or None)

    statuses = "ARRAY[" + ", ".join(f"'{s}'" for s in dataset.STATUSES) + "]"
    document = dataset.python_document(0)
    common_word, rare_word = dataset.WORDS[0], dataset.WORDS[-1]
    return {
        "point_lookup": Case(
            "point_lookup",
            lambda v: statements.find(dataset.DOCS, find(Equals(Field.parse("id"), v["id"]), limit=1)),
            {"id": "__P_id__"},
            {"id": dataset.ID_SQL.format(k=":k::int")},
            (f"\\set k random(0, {docs - 1})",),
        ),
        "equality": Case(
            "equality",
            lambda v: statements.find(
                dataset.DOCS,
                find(
                    And((Equals(Field.parse("status"), v["status"]), Equals(Field.parse("city"), v["city"]))),
                    limit=catalogue.QUERY_LIMIT,
                ),
            ),
            {"status": "__P_status__", "city": "__P_city__"},
            {"status": f"({statuses})[:s::int]", "city": "('city-' || lpad(:c::text, 2, '0'))"},
            (f"\\set s random(1, {len(dataset.STATUSES)})", f"\\set c random(0, {dataset.CITY_COUNT - 1})"),
            (
                ("common pair (active, city-00)", {"status": "active", "city": "city-00"}),
                ("rare pair (blocked, city-49)", {"status": "blocked", "city": "city-49"}),
            ),
        ),
        "range": Case(
            "range",
            lambda v: statements.find(
                dataset.DOCS,
                find(
                    range_of(Field.parse("n"), v["low"], v["high"]),
                    (OrderBy(Field.parse("n"), True),),
                    limit=catalogue.RANGE_LIMIT,
                ),
            ),
            {"low": 987654321, "high": 987654322},
            {"low": ":lo::int", "high": f"(:lo::int + {catalogue.RANGE_WIDTH - 1})"},
            (f"\\set lo random(0, {dataset.N_MAX - catalogue.RANGE_WIDTH})",),
            (("n from 50000 to 50999", {"low": 50000, "high": 50000 + catalogue.RANGE_WIDTH - 1}),),
        ),
        "text": Case(
            "text",
            lambda v: statements.find(
                dataset.DOCS,
                find(TextSearch((Field.parse("text"),), v["word"], ""), limit=catalogue.TEXT_LIMIT),
            ),
            {"word": "__P_word__"},
            {"word": f"({_words_array()})[:w::int]"},
            (f"\\set w random(1, {len(dataset.WORDS)})",),
            (
                (f"common word ({common_word!r})", {"word": common_word}),
                (f"rare word ({rare_word!r})", {"word": rare_word}),
            ),
        ),
        "insert": Case(
            "insert",
            lambda v: statements.insert(dataset.WRITES, [NewDocument({**document, "n": v["n"]}, id=v["id"])]),
            {"id": "__P_newid__", "n": 987654323},
            {"id": "gen_random_uuid()::text", "n": ":n::int"},
            (f"\\set n random(0, {dataset.N_MAX - 1})",),
        ),
        "update": Case(
            "update",
            lambda v: statements.update(dataset.DOCS, v["id"], {"score": v["score"]}),
            {"id": "__P_id__", "score": 987654324.5},
            {"id": dataset.ID_SQL.format(k=":k::int"), "score": "(:v::int / 10.0)"},
            (f"\\set k random(0, {docs - 1})", "\\set v random(0, 9999)"),
        ),
        "delete": Case(
            "delete",
            lambda v: statements.delete_where(dataset.DELETES, find(Equals(Field.parse("id"), v["id"]))),
            {"id": "__P_delid__"},
            # An InitPlan: evaluated once per execution, and still an index condition.
            {"id": "(SELECT " + dataset.ID_SQL.format(k="-1 - nextval('bench_delete_seq')") + ")"},
            (),
        ),
    }


# -- rendering -------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"%(%|s)")


def _array_text(values: Sequence[Any]) -> str:
    def element(value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, (list, tuple)):
            return _array_text(value)
        text = str(value).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{text}"'

    return "{" + ",".join(element(value) for value in values) + "}"


def _contains(value: Any, markers: dict[Any, str]) -> bool:
    if isinstance(value, Jsonb):
        return _contains(value.obj, markers)
    if isinstance(value, dict):
        return any(_contains(item, markers) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_contains(item, markers) for item in value)
    try:
        return value in markers
    except TypeError:
        return False


def _json_expression(obj: Any, markers: dict[Any, str]) -> str:
    """``('{"n": ' || (expr)::text || '}')::jsonb`` for a JSON value holding markers.

    Built only from immutable operations (text concatenation, casts), so that
    with custom plans PostgreSQL folds it into a constant, as it sees the
    server's bound jsonb parameter: the planner estimates with the real value.
    String markers are quoted as JSON strings; the benchmark's values need no escaping.
    """
    text = json.dumps(obj, separators=(", ", ": "))
    pieces: list[tuple[int, Any]] = []
    for marker in markers:
        token = json.dumps(marker)
        start = text.find(token)
        while start >= 0:
            pieces.append((start, marker))
            start = text.find(token, start + len(token))
    parts: list[str] = []
    position = 0
    for start, marker in sorted(pieces, key=lambda piece: piece[0]):
        parts.append(_literal(text[position:start]))
        expression = markers[marker]
        parts.append(f"'\"' || ({expression}) || '\"'" if isinstance(marker, str) else f"({expression})::text")
        position = start + len(json.dumps(marker))
    parts.append(_literal(text[position:]))
    return "(" + " || ".join(part for part in parts if part != "''") + ")::jsonb"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _expression(value: Any, markers: dict[Any, str]) -> str:
    if isinstance(value, Jsonb):
        return "(" + _json_expression(value.obj, markers) + ")"
    if isinstance(value, (list, tuple)):
        return "ARRAY[" + ", ".join(_expression(item, markers) for item in value) + "]"
    if value is None:
        return "NULL"
    if value in markers:
        return f"({markers[value]})"
    raise ValueError(f"cannot render {value!r} as an expression")


def text_of(value: Any) -> str:
    """A parameter as PostgreSQL reads its text form."""
    if isinstance(value, Jsonb):
        return json.dumps(value.obj)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return _array_text(value)
    return str(value)


def pgbench_script(case: Case, conn: psycopg.Connection[Any]) -> tuple[str, list[str]]:
    """The pgbench script for ``case`` and its ``-D`` definitions (the constant parameters)."""
    statement = case.build(case.markers)
    query = statement.query.as_string(conn) if hasattr(statement.query, "as_string") else str(statement.query)
    markers = {case.markers[name]: expression for name, expression in case.expressions.items()}
    params = list(statement.params)
    if not case.notify and ANNOUNCE in query:
        at = query.index(ANNOUNCE)
        del params[len(_PLACEHOLDER.findall(query[:at]))]
        query = query[:at] + "NULL" + query[at + len(ANNOUNCE) :]
    defines: list[str] = []
    parts: list[str] = []
    position = 0
    index = 0
    for match in _PLACEHOLDER.finditer(query):
        parts.append(query[position : match.start()])
        position = match.end()
        if match.group(1) == "%":
            parts.append("%")
            continue
        value = params[index]
        index += 1
        if _contains(value, markers):
            parts.append(_expression(value, markers))
        elif value is None:
            parts.append("NULL")
        else:
            name = f"p{index}"
            defines.append(f"{name}={text_of(value)}")
            parts.append(f":{name}")
    parts.append(query[position:])
    one_line = " ".join("".join(parts).split())
    return "\n".join([*case.variables, one_line + ";"]) + "\n", defines


def server_options(url: str) -> str:
    """The session settings the server's pooled connections carry (``-c name=value ...``)."""
    from server.store.pool_settings import PoolSettings, connection_kwargs

    return str(connection_kwargs(url, PoolSettings()).get("options") or "")


def explain(
    case: Case, conn: psycopg.Connection[Any], analyze: bool = True, generic: bool = True
) -> list[tuple[str, str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of the case's statement with each sample's values (plain EXPLAIN
    without ``analyze``: the plan only, for sizes where running the query takes too long).

    As psycopg runs it with the values bound (PostgreSQL plans for these values:
    a custom plan), and with ``generic`` also as a prepared statement's generic
    plan (``plan_cache_mode = force_generic_plan``), which PostgreSQL may switch
    to after five executions of a statement psycopg has prepared, unless the
    session forces custom plans.
    """
    plans: list[tuple[str, str]] = []
    for label, values in case.samples:
        statement = case.build(values)
        query = statement.query.as_string(conn)
        how = "EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN "
        rows = conn.execute(sql.SQL(how) + sql.SQL(query), statement.params).fetchall()
        plans.append((f"{label}, custom plan", "\n".join(str(row[0]) for row in rows)))
        if not generic:
            continue
        prepared = _numbered(query)
        conn.execute(sql.SQL("PREPARE bench_generic AS ") + sql.SQL(prepared))
        conn.execute("SET plan_cache_mode = force_generic_plan")
        try:
            arguments = sql.SQL(", ").join(sql.Literal(value) for value in statement.params)
            rows = conn.execute(sql.SQL(how + "EXECUTE bench_generic({})").format(arguments)).fetchall()
            plans.append((f"{label}, generic plan", "\n".join(str(row[0]) for row in rows)))
        finally:
            conn.execute("RESET plan_cache_mode")
            conn.execute("DEALLOCATE bench_generic")
    return plans


def _numbered(query: str) -> str:
    """``%s`` placeholders as ``$1``, ``$2``, ... (for PREPARE)."""
    parts: list[str] = []
    position = 0
    number = 0
    for match in _PLACEHOLDER.finditer(query):
        parts.append(query[position : match.start()])
        position = match.end()
        if match.group(1) == "%":
            parts.append("%")
        else:
            number += 1
            parts.append(f"${number}")
    parts.append(query[position:])
    return "".join(parts)


def uses_index(plan: str) -> bool:
    """Reads documents through an index, and never scans the whole table."""
    return "Seq Scan on documents" not in plan and bool(re.search(r"Index (Only )?Scan|Bitmap Index Scan", plan))


SqlCase = Case
__all__ = ["Case", "SqlText", "cases", "explain", "pgbench_script", "text_of", "uses_index"]
