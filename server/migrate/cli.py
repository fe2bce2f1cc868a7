"""``persistence-server migrate import | verify | export``: argument parsing, wiring and exit codes.

Exit codes, so scripts and CI can act on the outcome:

* 0: done, nothing rejected (import) or everything matches (verify);
* 1: failed (database unreachable, unreadable file, ...), nothing more to say than the message;
* 2: wrong arguments;
* 3: done, but rows were rejected (import) or differ (verify);
* 130: interrupted; an import can simply be run again to resume.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import psycopg

from server.migrate.exporter import run_export
from server.migrate.importer import DEFAULT_BATCH, ImportOptions, ImportSummary, run_import
from server.migrate.jsonl import STDIO, JsonLinesSource, open_output
from server.migrate.progress import make_progress
from server.migrate.records import Rejected, timestamp
from server.migrate.rejects import DEFAULT_PATH, RejectFile
from server.migrate.source import Source
from server.migrate.table_source import DEFAULT_METADATA_KEY, DEFAULT_TABLE, ColumnMap, TableSource
from server.migrate.verify import VerifyReport, compare
from server.store import CONNECTION_ENV
from server.store.bulk import BulkLoader, OnConflict, count_documents, scan_documents
from server.store.errors import StoreError
from server.store.pool_settings import PoolSettings, connection_kwargs

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130

PROG = "persistence-server migrate"


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        result: int = args.run(args)
        return result
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted; committed batches stay, run the same import again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (psycopg.Error, StoreError, OSError) as exc:
        print(f"{PROG}: error: {_first_line(exc)}", file=sys.stderr)
        return EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Move data from the old platform into documents.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    importing = commands.add_parser("import", help="import a table or JSON Lines files into documents")
    _target_options(importing)
    _source_options(importing)
    importing.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="rows per transaction (%(default)s)")
    importing.add_argument(
        "--on-conflict",
        choices=[choice.value for choice in OnConflict],
        default=OnConflict.SKIP.value,
        help="for an id the target already has: 'skip' it (default; reruns import nothing twice) "
        "or replace it when the source row is 'newer' (higher version, then later updated_at)",
    )
    importing.add_argument("--dry-run", action="store_true", help="report what would be imported; change nothing")
    importing.add_argument(
        "--reject-file", default=DEFAULT_PATH, help="where refused rows go, one JSON line each (%(default)s)"
    )
    importing.add_argument("--max-rate", type=float, help="rows per second at most (spares a busy source)")
    importing.add_argument("--only", action="append", metavar="COLLECTION", help="import this collection (repeat)")
    importing.add_argument("--json", action="store_true", help="print the summary as JSON")
    importing.set_defaults(run=_import)

    verifying = commands.add_parser("verify", help="compare source and target: counts, checksums, differing ids")
    _target_options(verifying)
    _source_options(verifying)
    verifying.add_argument("--only", action="append", metavar="COLLECTION", help="compare this collection (repeat)")
    verifying.add_argument("--show", type=int, default=20, help="ids listed per kind of difference (%(default)s)")
    verifying.add_argument("--report", help="write the full comparison, every id, as JSON to this file")
    verifying.set_defaults(run=_verify)

    exporting = commands.add_parser("export", help="write documents as JSON Lines (the format import reads)")
    _target_options(exporting)
    exporting.add_argument("--output", "-o", default=STDIO, help="file to write ('-' is stdout, .gz compresses)")
    exporting.add_argument("--only", action="append", metavar="COLLECTION", help="export this collection (repeat)")
    exporting.add_argument(
        "--changed-since",
        type=_moment,
        metavar="TIMESTAMP",
        help="only documents whose updated_at is at or after this ISO 8601 time (zone-less means UTC)",
    )
    exporting.set_defaults(run=_export)
    return parser


def _target_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("target (the server's database)")
    group.add_argument(
        "--database-url",
        default=os.environ.get(CONNECTION_ENV),
        help=f"PostgreSQL holding documents [env {CONNECTION_ENV}]; without it, the embedded one in --data-dir",
    )
    group.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("PERSISTENCE_DATA_DIR") or ".data/postgres"),
        help="the embedded PostgreSQL's directory, as the server uses it [env PERSISTENCE_DATA_DIR]",
    )
    group.add_argument(
        "--tenant",
        default=os.environ.get("PERSISTENCE_TENANT") or "default",
        help="tenant the documents belong to (default 'default') [env PERSISTENCE_TENANT]",
    )
    group.add_argument(
        "--progress",
        choices=["auto", "bar", "lines", "none"],
        default="auto",
        help="on stderr: a bar on a terminal, plain lines otherwise (auto)",
    )


def _source_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("source (exactly one of --source-url and --jsonl)")
    kinds = group.add_mutually_exclusive_group(required=True)
    kinds.add_argument("--source-url", help="PostgreSQL-wire database to read (CockroachDB, PostgreSQL)")
    kinds.add_argument("--jsonl", nargs="+", metavar="FILE", help="JSON Lines files ('-' is stdin, .gz is read)")
    mapping = parser.add_argument_group(
        "column mapping for --source-url (defaults: the old platform's entities table; '' means no such column)"
    )
    mapping.add_argument("--table", default=DEFAULT_TABLE, help="table, or schema.table (%(default)s)")
    mapping.add_argument("--id-column", default="id")
    mapping.add_argument("--collection-column", default="record_type", help="becomes the collection (%(default)s)")
    mapping.add_argument("--collection", help="one collection for every row (for tables without such a column)")
    mapping.add_argument("--data-column", default="data")
    mapping.add_argument("--metadata-column", default="metadata", help="kept inside data under --metadata-key")
    mapping.add_argument("--metadata-key", default=DEFAULT_METADATA_KEY, help="(%(default)s)")
    mapping.add_argument("--created-at-column", default="created_at")
    mapping.add_argument("--updated-at-column", default="updated_at")
    mapping.add_argument("--version-column", default="version")


# -- wiring --------------------------------------------------------------------------


def _source(args: argparse.Namespace) -> Source:
    if args.jsonl:
        return JsonLinesSource(args.jsonl)
    columns = ColumnMap(
        table=args.table,
        id=args.id_column,
        collection=None if args.collection else _column(args.collection_column),
        data=args.data_column,
        metadata=_column(args.metadata_column),
        created_at=_column(args.created_at_column),
        updated_at=_column(args.updated_at_column),
        version=_column(args.version_column),
        fixed_collection=args.collection,
        metadata_key=args.metadata_key,
    )
    return TableSource(args.source_url, columns)


def _column(name: str) -> str | None:
    return name or None


def _moment(text: str) -> datetime:
    try:
        moment = timestamp(text, "the time")
    except Rejected as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    assert moment is not None
    return moment


def _target(args: argparse.Namespace) -> psycopg.Connection[Any]:
    url = args.database_url
    if not url:
        from server import embedded

        url = embedded.start(args.data_dir)
    # The store's own connection settings (UTC timestamps among them), under the tool's name.
    kwargs = {**connection_kwargs(url, PoolSettings()), "application_name": "persistence-migrate"}
    return psycopg.connect(url, **kwargs)


def _import(args: argparse.Namespace) -> int:
    source = _source(args)
    only = frozenset(args.only) if args.only else None
    options = ImportOptions(args.batch_size, OnConflict(args.on_conflict), args.max_rate, only)
    if options.batch_size < 1:
        raise ValueError("--batch-size must be at least 1")
    with _target(args) as conn, RejectFile(args.reject_file) as rejects:
        loader = BulkLoader(conn, args.tenant, dry_run=args.dry_run)
        total = source.count() if args.progress != "none" else None
        progress = make_progress(args.progress, "import", total, sys.stderr)
        summary = run_import(source, loader, rejects, options, progress)
    if args.json:
        print(json.dumps(_summary_dict(summary, source, args)))
    else:
        _print_summary(summary, source, args, sys.stdout)
    return EXIT_INCOMPLETE if summary.rejected else EXIT_OK


def _summary_dict(summary: ImportSummary, source: Source, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "source": source.name,
        "tenant": args.tenant,
        "dry_run": summary.dry_run,
        "read": summary.read,
        "inserted": summary.inserted,
        "replaced": summary.replaced,
        "already_present": summary.kept,
        "rejected": summary.rejected,
        "not_selected": summary.unselected,
        "reject_file": args.reject_file,
        "collections": len(summary.collections),
        "batches": summary.batches,
        "seconds": round(summary.seconds, 3),
        "rows_per_second": round(summary.rate),
    }


def _print_summary(summary: ImportSummary, source: Source, args: argparse.Namespace, out: TextIO) -> None:
    would = "would be " if summary.dry_run else ""
    title = "dry run: nothing was written" if summary.dry_run else "import finished"
    out.write(f"{title}: {source.name} -> tenant {args.tenant!r}\n")
    lines = [("read", f"{summary.read:,} rows in {len(summary.collections):,} collections")]
    lines.append((would + "imported", f"{summary.inserted:,}"))
    if OnConflict(args.on_conflict) is OnConflict.NEWER:
        lines.append((would + "replaced", f"{summary.replaced:,}  (newer than the target's copy)"))
    lines.append(("already present", f"{summary.kept:,}  (skipped by id)"))
    if summary.unselected:
        lines.append(("not selected", f"{summary.unselected:,}  (other collections than --only)"))
    rejected = f"  (reasons in {args.reject_file})" if summary.rejected else ""
    lines.append(("rejected", f"{summary.rejected:,}{rejected}"))
    lines.append(("time", f"{summary.seconds:.1f} s, {summary.rate:,.0f} rows/s"))
    for label, value in lines:
        out.write(f"  {label:<20} {value}\n")


def _verify(args: argparse.Namespace) -> int:
    source = _source(args)
    with _target(args) as conn:
        report = compare(source, scan_documents(conn, args.tenant, args.only), args.only)
    if args.report:
        Path(args.report).write_text(json.dumps(report.as_dict(), indent=1) + "\n", encoding="utf-8")
    _print_report(report, source, args, sys.stdout)
    return EXIT_OK if report.ok else EXIT_INCOMPLETE


def _print_report(report: VerifyReport, source: Source, args: argparse.Namespace, out: TextIO) -> None:
    out.write(f"verify: {source.name} against tenant {args.tenant!r}\n")
    out.write(f"  {'collection':<30} {'source':>10} {'target':>10}  {'checksum (source / target)':<36} result\n")
    for check in report.collections:
        same = check.source_checksum == check.target_checksum
        sums = check.source_checksum[:16] + (" =" if same else " / " + check.target_checksum[:16])
        result = "ok" if check.ok else "DIFFERENT"
        name = check.collection if len(check.collection) <= 30 else check.collection[:27] + "..."
        out.write(f"  {name:<30} {check.source_count:>10,} {check.target_count:>10,}  {sums:<36} {result}\n")
        for label, ids in (
            ("missing in target", check.only_in_source),
            ("only in target", check.only_in_target),
            ("content differs", check.different),
        ):
            if ids:
                shown = ", ".join(ids[: args.show]) + (
                    f", ... ({len(ids) - args.show} more)" if len(ids) > args.show else ""
                )
                out.write(f"      {label} ({len(ids)}): {shown}\n")
    if report.source_rejected:
        out.write(
            f"  {report.source_rejected:,} source rows are not valid documents and were not compared"
            " (migrate import lists them with reasons)\n"
        )
    out.write("verify: " + ("source and target match\n" if report.ok else "DIFFERENCES found\n"))


def _export(args: argparse.Namespace) -> int:
    with _target(args) as conn:
        since = args.changed_since
        total = count_documents(conn, args.tenant, args.only, changed_since=since) if args.progress != "none" else None
        progress = make_progress(args.progress, "export", total, sys.stderr)
        with open_output(args.output) as stream:
            rows = scan_documents(conn, args.tenant, args.only, changed_since=since)
            written = run_export(rows, stream, progress)
    where = "stdout" if args.output == STDIO else args.output
    print(
        f"export finished: {sum(written.values()):,} documents in {len(written):,} collections"
        f" of tenant {args.tenant!r} -> {where}",
        file=sys.stderr,
    )
    return EXIT_OK


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
