"""The JSON Lines format import reads and export writes: one document a line.

``{"id": "...", "collection": "...", "data": {...}, "created_at": "...", "updated_at": "...", "version": 3}``

``id``, ``collection`` and ``data`` are required; the timestamps (ISO 8601,
zone-less means UTC) and ``version`` are optional. Any other key is refused, so
a typo such as ``"created"`` is reported instead of silently dropped. Files
ending in ``.gz`` are read and written gzip-compressed; ``-`` is stdin/stdout.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

from server.migrate.records import FIELDS, Record, Reject, Rejected, make_record
from server.store.bulk import StoredRow

STDIO = "-"


def parse_line(text: str) -> Record:
    """The record one line holds, or :class:`Rejected`."""
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Rejected(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(value, dict):
        raise Rejected("a line must be a JSON object with id, collection and data")
    unknown = sorted(set(value) - set(FIELDS))
    if unknown:
        raise Rejected(f"unknown field(s) {', '.join(unknown)}; a line holds only {', '.join(FIELDS)}")
    return make_record(**{name: value.get(name) for name in FIELDS})


def format_line(row: StoredRow) -> str:
    """One line for a stored document, without the newline.

    ``data`` is PostgreSQL's own JSON text, written as it is: no float round trip
    through Python, so numbers come back exactly as the table holds them.
    """
    doc_id, collection, data_text, created_at, updated_at, version = row
    head = json.dumps({"id": doc_id, "collection": collection}, ensure_ascii=False, separators=(",", ":"))
    tail = json.dumps(
        {"created_at": utc_text(created_at), "updated_at": utc_text(updated_at), "version": version},
        separators=(",", ":"),
    )
    return f'{head[:-1]},"data":{data_text},{tail[1:]}'


def utc_text(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds, so every timestamp has one spelling."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class JsonLinesSource:
    """Records from one or more JSON Lines files, in file and line order."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        self.name = ", ".join(self.paths)

    def count(self) -> int | None:
        """Lines in all files (for progress); None when reading stdin, which can be read only once."""
        if STDIO in self.paths:
            return None
        total = 0
        for path in self.paths:
            with _open_binary(path) as stream:
                last = b"\n"
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    total += chunk.count(b"\n")
                    last = chunk[-1:]
                if last != b"\n":
                    total += 1
        return total

    def __iter__(self) -> Iterator[Record | Reject]:
        for path in self.paths:
            with _open_binary(path) as stream:
                for number, raw in enumerate(stream, start=1):
                    yield from _item(path, number, raw)


def _item(path: str, number: int, raw: bytes) -> Iterator[Record | Reject]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield Reject(path, f"not UTF-8 text (byte {exc.start + 1})", raw.decode("utf-8", "replace").rstrip(), number)
        return
    if number == 1:
        text = text.removeprefix("\ufeff")
    text = text.rstrip("\r\n")
    if not text.strip():
        return  # blank lines (a trailing newline too many) carry nothing
    try:
        yield parse_line(text)
    except Rejected as exc:
        yield Reject(path, str(exc), text, line=number)


@contextmanager
def _open_binary(path: str) -> Iterator[IO[bytes]]:
    if path == STDIO:
        yield sys.stdin.buffer
    elif path.endswith(".gz"):
        with gzip.open(path, "rb") as compressed:
            yield cast(IO[bytes], compressed)
    else:
        with Path(path).open("rb") as stream:
            yield stream


@contextmanager
def open_output(path: str) -> Iterator[IO[str]]:
    """A text stream for an export that appears under ``path`` only once complete.

    The file is written beside its final name and renamed at the end, so an
    export that fails or is interrupted never leaves a truncated backup that
    looks whole.
    """
    if path == STDIO:
        yield sys.stdout
        sys.stdout.flush()
        return
    final = Path(path)
    partial = final.with_name(final.name + ".partial")
    try:
        if path.endswith(".gz"):
            with gzip.open(partial, "wt", encoding="utf-8", newline="\n") as gz_stream:
                yield gz_stream
        else:
            with partial.open("w", encoding="utf-8", newline="\n") as stream:
                yield stream
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(final)
