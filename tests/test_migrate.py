"""``persistence-server migrate``: import, verify and export against a real PostgreSQL.

The old platform's ``entities`` table is created in a fresh schema of the test
database (CockroachDB speaks the same wire protocol, so psycopg reads both the
same way); every test writes under its own tenant.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from server.migrate.cli import EXIT_FAILED, EXIT_INCOMPLETE, EXIT_OK, main
from server.migrate.progress import Bar, Lines, clock_text
from server.store import Document, DocumentStore, NewDocument

ROOT = Path(__file__).resolve().parent.parent

ENTITIES = """
CREATE TABLE entities (
    id          TEXT PRIMARY KEY,
    record_type TEXT,
    data        JSONB,
    metadata    JSONB,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    version     INT8 NOT NULL DEFAULT 1
)
"""


@pytest.fixture
def source_schema(shared_store: DocumentStore, database_url: str) -> Iterator[tuple[str, str]]:
    """(schema, connection string whose search_path is that schema): where the old platform's tables go."""
    schema = "src_" + uuid.uuid4().hex[:10]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema, make_conninfo(database_url, options=f"-c search_path={schema}")
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def source_sql(url: str, statement: str, params: Any = None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement, params)


class Migrate:
    """Runs ``persistence-server migrate`` in-process against the test database, one tenant."""

    def __init__(self, database_url: str, tenant: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
        self.database_url = database_url
        self.tenant = tenant
        self.rejects = tmp_path / "rejects.jsonl"
        self.capsys = capsys

    def __call__(self, command: str, *args: str, tenant: str | None = None) -> tuple[int, str]:
        argv = [command, "--database-url", self.database_url, "--tenant", tenant or self.tenant, "--progress", "none"]
        if command == "import":
            argv += ["--reject-file", str(self.rejects)]
        self.capsys.readouterr()
        code = main([*argv, *args])
        captured = self.capsys.readouterr()
        self.err = captured.err
        return code, captured.out

    def summary(self, *args: str, tenant: str | None = None) -> tuple[int, dict[str, Any]]:
        code, out = self("import", *args, "--json", tenant=tenant)
        return code, json.loads(out)

    def rejected(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.rejects.read_text().splitlines()]


@pytest.fixture
def migrate(database_url: str, tenant: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Migrate:
    return Migrate(database_url, tenant, tmp_path, capsys)


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def documents(store: DocumentStore) -> dict[tuple[str, str], Document]:
    return {(doc.collection, doc.id): doc for c in store.list_collections() for doc in store.query(c, limit=10000)}


# -- import from the old platform's table ---------------------------------------------------


def test_imports_the_entities_table(
    migrate: Migrate, store: DocumentStore, source_schema: tuple[str, str], tmp_path: Path
) -> None:
    _schema, url = source_schema
    source_sql(url, ENTITIES)
    created = datetime(2019, 5, 6, 5, 8, 9, 123456, tzinfo=UTC)
    updated = datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)
    nested = {"name": "Ada", "tags": ["a", "b"], "address": {"city": "Bern", "geo": [46.95, 7.44]}, "n": None}
    with psycopg.connect(url, autocommit=True) as conn:
        insert = "INSERT INTO entities VALUES (%s, %s, %s, %s, %s, %s, %s)"
        conn.execute(
            insert, ("u1", "users", json.dumps(nested), '{"source": "crm", "flags": [1]}', created, updated, 7)
        )
        conn.execute(insert, ("u2", "users", '{"name": "Bo", "score": 2.0}', None, created, created, 1))
        conn.execute(insert, ("o1", "orders", '{"total": 12.5}', "null", created, updated, 3))
        conn.execute(insert, ("bad-long", "x" * 256, "{}", None, created, created, 1))
        conn.execute(insert, ("bad-array", "users", "[1, 2]", None, created, created, 1))
        conn.execute(insert, ("bad-null", "users", None, None, created, created, 1))
        conn.execute(insert, ("bad-nocoll", None, "{}", None, created, created, 1))
        conn.execute(insert, ("bad-clash", "users", '{"_metadata": 1}', '{"m": 1}', created, created, 1))

    code, summary = migrate.summary("--source-url", url)

    assert code == EXIT_INCOMPLETE  # some rows were rejected
    assert (summary["read"], summary["inserted"], summary["rejected"]) == (8, 3, 5)
    docs = documents(store)
    assert set(docs) == {("users", "u1"), ("users", "u2"), ("orders", "o1")}
    u1 = docs["users", "u1"]
    assert u1.data == {**nested, "_metadata": {"source": "crm", "flags": [1]}}
    assert (u1.created_at, u1.updated_at, u1.version) == (created, updated, 7)
    assert docs["users", "u2"].data == {"name": "Bo", "score": 2}  # no metadata key, integral float as int
    assert isinstance(docs["users", "u2"].data["score"], int)
    assert docs["orders", "o1"].data == {"total": 12.5} and docs["orders", "o1"].version == 3
    reasons = {r["key"]["id"]: r["reason"] for r in migrate.rejected()}
    assert reasons == {
        "bad-long": "collection is 256 characters long; at most 255 are allowed",
        "bad-array": "data must be a JSON object, not an array",
        "bad-null": "missing data",
        "bad-nocoll": "missing collection",
        "bad-clash": "data already has a '_metadata' key, where metadata would go (see --metadata-key)",
    }
    assert all(r["source"] == "entities" and r["raw"] for r in migrate.rejected())

    code, out = migrate("verify", "--source-url", url)
    assert code == EXIT_OK, out
    assert "5 source rows are not valid documents" in out


def test_other_table_layouts_by_column_mapping(
    migrate: Migrate, store: DocumentStore, source_schema: tuple[str, str]
) -> None:
    """A table with other names, JSON in TEXT (so it can be broken) and no version or metadata column."""
    schema, url = source_schema
    source_sql(url, "CREATE TABLE things (key TEXT, kind TEXT, body TEXT, made TIMESTAMP)")
    made = datetime(2021, 3, 4, 5, 6, 7)
    with psycopg.connect(url, autocommit=True) as conn:
        for row in [
            ("t1", "things", '{"a": {"b": [1, "two"]}}', made),
            ("t2", "things", '{"a": 1', made),  # invalid JSON
            ("t3", "things", '{"a": NaN}', made),  # NaN: Python's parser reads it, JSONB refuses it
            (None, "things", "{}", made),  # missing id
            ("t5", "things", '{"s": "nul \\u0000 inside"}', made),
        ]:
            conn.execute("INSERT INTO things VALUES (%s, %s, %s, %s)", row)
    mapping = ["--table", f"{schema}.things", "--id-column", "key", "--collection-column", "kind"]
    mapping += ["--data-column", "body", "--metadata-column", "", "--created-at-column", "made"]
    mapping += ["--updated-at-column", "made", "--version-column", ""]

    code, summary = migrate.summary("--source-url", url, *mapping)

    assert code == EXIT_INCOMPLETE
    assert (summary["inserted"], summary["rejected"]) == (1, 4)
    doc = store.read("things", "t1")
    assert doc is not None and doc.data == {"a": {"b": [1, "two"]}} and doc.version == 1
    assert doc.created_at == made.replace(tzinfo=UTC)  # a zone-less timestamp is UTC
    reasons = {(r["key"]["id"], r["key"]["row"]): r["reason"] for r in migrate.rejected()}
    assert reasons[("t2", 2)].startswith("data is not valid JSON: Expecting")
    assert reasons[("t3", 3)] == "data.a: nan is not a JSON number (NaN and Infinity are refused)"
    assert reasons[(None, 4)] == "missing id"
    assert reasons[("t5", 5)] == "data.s: strings may not contain the NUL character (\\u0000)"

    # One fixed collection for a table that has no collection column.
    code, summary = migrate.summary("--source-url", url, *mapping, "--collection", "misc", "--collection-column", "")
    assert summary["inserted"] == 1 and store.read("misc", "t1") is not None


def test_a_missing_table_fails_with_a_message(migrate: Migrate, source_schema: tuple[str, str]) -> None:
    code, _out = migrate("import", "--source-url", source_schema[1], "--table", "nowhere")
    assert code == EXIT_FAILED
    assert 'error: relation "nowhere" does not exist' in migrate.err


# -- import from JSON Lines ---------------------------------------------------------------------


def test_imports_json_lines_and_rejects_bad_lines_with_reasons(
    migrate: Migrate, store: DocumentStore, tmp_path: Path
) -> None:
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": "a", "collection": "users", "data": {"n": 1}, "created_at": "2020-01-01T00:00:00Z", "version": 4},
            {"id": "b", "collection": "users", "data": {"deep": {"list": [{"x": 1.5}]}}},
            "{not json",
            {"collection": "users", "data": {}},
            '{"id": "c", "collection": "users", "data": {"v": NaN}}',
            {"id": "d", "collection": "c" * 256, "data": {}},
            {"id": "e", "collection": "users", "data": {}, "created": "2020-01-01"},
            {"id": "f", "collection": "users", "data": {}, "version": 0},
            {"id": "g", "collection": "users", "data": {}, "updated_at": "yesterday"},
            "",
            {"id": "h" * 256, "collection": "users", "data": {}},
        ],
    )

    code, summary = migrate.summary("--jsonl", str(source))

    assert code == EXIT_INCOMPLETE
    assert (summary["read"], summary["inserted"], summary["rejected"]) == (10, 2, 8)
    a = store.read("users", "a")
    assert a is not None and a.version == 4 and a.created_at == datetime(2020, 1, 1, tzinfo=UTC)
    assert a.updated_at == a.created_at  # no updated_at: the created_at, not the import's time
    b = store.read("users", "b")
    assert b is not None and b.data == {"deep": {"list": [{"x": 1.5}]}} and b.version == 1
    assert {r["line"]: r["reason"] for r in migrate.rejected()} == {
        3: "invalid JSON: Expecting property name enclosed in double quotes at column 2",
        4: "missing id",
        5: "data.v: nan is not a JSON number (NaN and Infinity are refused)",
        6: "collection is 256 characters long; at most 255 are allowed",
        7: "unknown field(s) created; a line holds only id, collection, data, created_at, updated_at, version",
        8: "version must be 1 or more, not 0",
        9: "updated_at 'yesterday' is not an ISO 8601 timestamp",
        11: "id is 256 characters long; at most 255 are allowed",
    }
    assert migrate.rejected()[0]["raw"] == "{not json"


def test_clean_import_exits_zero_and_prints_a_summary(migrate: Migrate, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": str(i), "collection": "c", "data": {}} for i in range(5)])
    code, out = migrate("import", "--jsonl", str(source))
    assert code == EXIT_OK
    assert "import finished" in out and "imported             5" in out and "rejected             0" in out
    assert migrate.rejected() == []  # the reject file is rewritten, empty, by a clean run


# -- repeat, resume, dry run --------------------------------------------------------------------


def test_a_rerun_imports_nothing_twice(migrate: Migrate, store: DocumentStore, tmp_path: Path) -> None:
    rows = [{"id": f"id-{i}", "collection": f"c{i % 3}", "data": {"i": i}} for i in range(250)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)

    first = migrate.summary("--jsonl", str(source), "--batch-size", "40")[1]
    store.update("c0", "id-0", {"changed": True})  # written through the store after the import
    second = migrate.summary("--jsonl", str(source), "--batch-size", "40")[1]

    assert (first["inserted"], first["already_present"], first["batches"]) == (250, 0, 7)
    assert (second["inserted"], second["already_present"]) == (0, 250)
    assert sum(store.count(c) for c in store.list_collections()) == 250
    changed = store.read("c0", "id-0")
    assert changed is not None and changed.data == {"i": 0, "changed": True} and changed.version == 2


def test_only_the_chosen_collections(migrate: Migrate, store: DocumentStore, tmp_path: Path) -> None:
    rows = [{"id": str(i), "collection": ("a", "b", "c")[i % 3], "data": {}} for i in range(9)]
    code, summary = migrate.summary(
        "--jsonl", str(write_jsonl(tmp_path / "in.jsonl", rows)), "--only", "a", "--only", "c"
    )
    assert (code, summary["inserted"], summary["not_selected"]) == (EXIT_OK, 6, 3)
    assert store.list_collections() == ["a", "c"]


def test_dry_run_reports_and_changes_nothing(migrate: Migrate, store: DocumentStore, tmp_path: Path) -> None:
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"id": str(i), "collection": "c", "data": {}} for i in range(10)] + ["oops"]
    )
    migrate("import", "--jsonl", str(source), "--batch-size", "3")
    store.delete("c", "4")
    store.delete("c", "7")

    code, summary = migrate.summary("--jsonl", str(source), "--dry-run", "--batch-size", "3")

    assert code == EXIT_INCOMPLETE
    assert summary["dry_run"] is True
    assert (summary["inserted"], summary["already_present"], summary["rejected"]) == (2, 8, 1)
    assert store.count("c") == 8
    code, out = migrate("import", "--jsonl", str(source), "--dry-run")
    assert "dry run: nothing was written" in out
    assert re.search(r"would be imported +2\n", out)


def test_dry_run_on_a_database_without_the_table_creates_nothing(
    database_url: str, source_schema: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _schema, url = source_schema
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "1", "collection": "c", "data": {}}])
    code = main(["import", "--database-url", url, "--jsonl", str(source), "--dry-run", "--progress", "none",
                 "--reject-file", str(tmp_path / "r.jsonl"), "--json"])  # fmt: skip
    assert code == EXIT_OK
    assert json.loads(capsys.readouterr().out)["inserted"] == 1
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regclass('documents')").fetchone() == (None,)


def test_an_import_killed_midway_resumes_to_exactly_the_source_rows(
    database_url: str, migrate: Migrate, store: DocumentStore, tmp_path: Path
) -> None:
    rows = [{"id": f"k{i:05}", "collection": "killed", "data": {"i": i, "pad": "x" * 50}} for i in range(3000)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    command = [sys.executable, "-m", "server", "migrate", "import", "--database-url", database_url]
    command += ["--tenant", migrate.tenant, "--jsonl", str(source), "--batch-size", "100", "--max-rate", "1500"]
    command += ["--reject-file", str(tmp_path / "r.jsonl"), "--progress", "none"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while store.count("killed") < 500:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the import made no progress"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL

    survived = store.count("killed")
    assert 500 <= survived < 3000, "killed too late to test resuming"
    assert survived % 100 == 0, "a batch was half committed"

    code, summary = migrate.summary("--jsonl", str(source), "--batch-size", "100")

    assert code == EXIT_OK
    assert (summary["inserted"], summary["already_present"]) == (3000 - survived, survived)
    assert [doc.id for doc in store.query("killed", order_by=["id"], limit=10000)] == [r["id"] for r in rows]
    assert migrate("verify", "--jsonl", str(source))[0] == EXIT_OK


def test_on_conflict_newer_replaces_only_newer_rows(migrate: Migrate, store: DocumentStore, tmp_path: Path) -> None:
    at = "2020-01-01T00:00:00+00:00"
    later = "2020-06-01T00:00:00+00:00"
    migrate(
        "import",
        "--jsonl",
        str(write_jsonl(tmp_path / "v1.jsonl", [
            {"id": i, "collection": "c", "data": {"v": 1}, "version": 2, "updated_at": at} for i in "abc"
        ])),
    )  # fmt: skip
    changed = write_jsonl(
        tmp_path / "v2.jsonl",
        [
            {"id": "a", "collection": "c", "data": {"v": 2}, "version": 3, "updated_at": later},  # newer version
            {"id": "b", "collection": "c", "data": {"v": 2}, "version": 1, "updated_at": later},  # older version
            {"id": "c", "collection": "c", "data": {"v": 2}, "version": 2, "updated_at": later},  # same, later
            {"id": "d", "collection": "c", "data": {"v": 2}},
        ],
    )
    skip = migrate.summary("--jsonl", str(changed))[1]
    assert (skip["inserted"], skip["replaced"], skip["already_present"]) == (1, 0, 3)
    assert store.read("c", "a").data == {"v": 1}  # type: ignore[union-attr]

    newer = migrate.summary("--jsonl", str(changed), "--on-conflict", "newer")[1]

    assert (newer["inserted"], newer["replaced"], newer["already_present"]) == (0, 2, 2)
    assert {doc.id: (doc.data["v"], doc.version) for doc in store.query("c")} == {
        "a": (2, 3),
        "b": (1, 2),
        "c": (2, 2),
        "d": (2, 1),
    }


# -- export, round trip, verify ------------------------------------------------------------------


def test_export_import_verify_round_trip_is_lossless(
    migrate: Migrate, shared_store: DocumentStore, store: DocumentStore, tmp_path: Path
) -> None:
    moment = datetime(2018, 7, 8, 9, 10, 11, 654321, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    tricky = {
        "unicode": "Zürich ✓ 東京 \U0001f600",
        "escapes": 'quote " backslash \\ newline \n tab \t',
        "numbers": [0, -1, 2**62, 2**70, 1.5, -0.25, 1e-7, 123456789.123456],
        "nested": {"a": {"b": {"c": [[], {}, [None, True, False]]}}},
        "empty": {},
    }
    store.create_many(
        "alpha",
        [
            NewDocument(tricky, id="t-1", created_at=moment, updated_at=moment + timedelta(days=1), version=42),
            NewDocument({"plain": 1}, id="t/2 with spaces", created_at=moment, updated_at=moment, version=1),
        ],
    )
    store.create_many("beta", [NewDocument({"i": i}, id=f"b{i}") for i in range(30)])
    backup = tmp_path / "backup.jsonl.gz"

    code, _ = migrate("export", "--output", str(backup))
    assert code == EXIT_OK
    assert not (tmp_path / "backup.jsonl.gz.partial").exists()
    restored_tenant = "t-" + uuid.uuid4().hex[:12]
    code, summary = migrate.summary("--jsonl", str(backup), tenant=restored_tenant)
    assert (code, summary["inserted"], summary["rejected"]) == (EXIT_OK, 32, 0)

    restored = shared_store.for_tenant(restored_tenant)
    assert documents(restored) == documents(store)
    t1 = restored.read("alpha", "t-1")
    assert t1 is not None and t1.data == tricky and t1.version == 42 and t1.created_at == moment
    code, out = migrate("verify", "--jsonl", str(backup), tenant=restored_tenant)
    assert code == EXIT_OK, out
    assert "source and target match" in out

    # The export of the restored tenant is the same file, line for line.
    again = tmp_path / "again.jsonl"
    migrate("export", "--output", str(again), tenant=restored_tenant)
    plain = tmp_path / "plain.jsonl"
    migrate("export", "--output", str(plain))
    assert again.read_text() == plain.read_text()
    assert len(plain.read_text().splitlines()) == 32


def test_export_of_chosen_collections_to_stdout(
    migrate: Migrate, store: DocumentStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store.create("one", {"x": 1}, id="1")
    store.create("two", {"x": 2}, id="2")
    code, out = migrate("export", "--only", "two")
    assert code == EXIT_OK
    [line] = out.splitlines()
    assert json.loads(line)["data"] == {"x": 2} and json.loads(line)["collection"] == "two"


def test_export_of_what_changed_since_a_moment(migrate: Migrate, store: DocumentStore) -> None:
    """What a rollback carries back to the old platform: the writes made after the switch."""
    switch = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    store.create("c", {}, id="before", created_at=switch - timedelta(days=1), updated_at=switch - timedelta(days=1))
    store.create("c", {}, id="at", created_at=switch, updated_at=switch)
    store.create("c", {}, id="after", created_at=switch - timedelta(days=1), updated_at=switch + timedelta(seconds=1))
    code, out = migrate("export", "--changed-since", "2026-01-01T12:00:00")
    assert code == EXIT_OK
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["after", "at"]
    with pytest.raises(SystemExit):
        migrate("export", "--changed-since", "last week")


def test_verify_lists_the_ids_that_differ(migrate: Migrate, store: DocumentStore, tmp_path: Path) -> None:
    rows = [{"id": f"r{i}", "collection": "c", "data": {"i": i}, "version": 1} for i in range(6)]
    rows.append({"id": "x", "collection": "other", "data": {}})
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    migrate("import", "--jsonl", str(source))
    store.update("c", "r1", {"i": 100})
    store.delete("c", "r2")
    store.create("c", {"new": True}, id="r9")
    store.create("later", {}, id="z")

    code, out = migrate("verify", "--jsonl", str(source), "--report", str(tmp_path / "report.json"))

    assert code == EXIT_INCOMPLETE
    assert "missing in target (1): r2" in out
    assert "only in target (1): r9" in out
    assert "content differs (1): r1" in out
    assert "DIFFERENCES found" in out
    report = json.loads((tmp_path / "report.json").read_text())
    by_name = {entry["collection"]: entry for entry in report["collections"]}
    assert by_name["c"]["source"]["count"] == 6 and by_name["c"]["target"]["count"] == 6
    assert by_name["c"]["source"]["checksum"] != by_name["c"]["target"]["checksum"]
    assert by_name["other"]["source"] == by_name["other"]["target"]
    assert by_name["later"]["only_in_target"] == ["z"]

    code, out = migrate("verify", "--jsonl", str(source), "--only", "other")
    assert code == EXIT_OK and "later" not in out


def test_verify_checks_timestamps_and_versions(migrate: Migrate, store: DocumentStore, tmp_path: Path) -> None:
    line = {"id": "a", "collection": "c", "data": {}, "created_at": "2020-01-01T00:00:00Z", "version": 5}
    migrate("import", "--jsonl", str(write_jsonl(tmp_path / "a.jsonl", [line])))
    assert migrate("verify", "--jsonl", str(tmp_path / "a.jsonl"))[0] == EXIT_OK
    for changed in ({"version": 6}, {"created_at": "2020-01-01T00:00:00.000001Z"}):
        other = write_jsonl(tmp_path / "b.jsonl", [{**line, **changed}])
        code, out = migrate("verify", "--jsonl", str(other))
        assert code == EXIT_INCOMPLETE and "content differs (1): a" in out


# -- progress ---------------------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_and_lines_elsewhere() -> None:
    now = [0.0]
    terminal = Terminal()
    bar = Bar("import", 1000, terminal, clock=lambda: now[0])
    now[0] = 2.0
    bar.update(250)
    assert "250/1,000 rows" in terminal.getvalue() and "125 rows/s" in terminal.getvalue()
    assert "ETA 0:06" in terminal.getvalue() and "25%" in terminal.getvalue() and "\r" in terminal.getvalue()
    bar.finish(1000)
    assert terminal.getvalue().endswith("\n")

    log = io.StringIO()
    lines = Lines("import", None, log, interval=5.0, clock=lambda: now[0])
    now[0] = 3.0
    lines.update(10)  # too soon for another line
    now[0] = 8.0
    lines.update(600)
    lines.finish(700)
    printed = log.getvalue().splitlines()
    assert len(printed) == 2 and "\r" not in log.getvalue()
    assert printed[0].endswith("import: 600 rows, 100 rows/s, ETA --:--")
    assert printed[1].endswith("import: 700/700 rows (100%), 117 rows/s, ETA 0:00")
    assert clock_text(3725) == "1:02:05"


def test_progress_lines_when_not_a_terminal(
    migrate: Migrate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": str(i), "collection": "c", "data": {}} for i in range(3)])
    code = main(["import", "--database-url", migrate.database_url, "--tenant", migrate.tenant,
                 "--jsonl", str(source), "--reject-file", str(tmp_path / "r.jsonl")])  # fmt: skip
    assert code == EXIT_OK
    assert "import: 3/3 rows (100%)" in capsys.readouterr().err


def test_benchmark_script_runs(database_url: str) -> None:
    """``make bench`` works (on a small count here; the 100k figure is for the benchmark itself)."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.migrate_import", "--rows", "2000"],
        cwd=ROOT,
        env={**os.environ, "TEST_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "rows/s" in result.stdout
