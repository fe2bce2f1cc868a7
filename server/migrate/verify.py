"""``migrate verify``: does the target hold what the source holds, collection by collection?

Each row is reduced to a digest of its id, data, timestamps and version, computed
in Python on both sides from the same canonical form (data normalized as the
store normalizes it, keys sorted, timestamps in UTC with microseconds). Hashing
in SQL would be faster, but CockroachDB and PostgreSQL do not print JSONB the
same way, so only a digest computed here compares across the two.

A field the source row does not have (a JSON Lines record without timestamps,
a table mapped without a version column) is left out of both digests for that
id: the import filled it in (now(), version 1), so there is nothing to compare.

A collection's checksum is the sum of its row digests, so it does not depend on
the order either database returns rows in. Source digests are held in memory
(about 100 bytes a row); the target is streamed against them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from server.migrate.jsonl import utc_text
from server.migrate.records import Record, Reject
from server.store.bulk import StoredRow
from server.store.errors import InvalidArgument
from server.store.json_values import normalize

_CREATED, _UPDATED, _VERSION = 1, 2, 4
_ALL = _CREATED | _UPDATED | _VERSION
_MODULUS = 1 << 128


@dataclass(slots=True)
class CollectionCheck:
    """Counts, checksums and the ids that differ for one collection."""

    collection: str
    source_count: int = 0
    target_count: int = 0
    source_sum: int = 0
    target_sum: int = 0
    only_in_source: list[str] = field(default_factory=list)
    only_in_target: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.only_in_source or self.only_in_target or self.different)

    @property
    def source_checksum(self) -> str:
        return f"{self.source_sum:032x}"

    @property
    def target_checksum(self) -> str:
        return f"{self.target_sum:032x}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "source": {"count": self.source_count, "checksum": self.source_checksum},
            "target": {"count": self.target_count, "checksum": self.target_checksum},
            "only_in_source": self.only_in_source,
            "only_in_target": self.only_in_target,
            "different": self.different,
        }


@dataclass(slots=True)
class VerifyReport:
    collections: list[CollectionCheck]
    #: Source rows that are not valid documents (the ones import rejects); they cannot be compared.
    source_rejected: int

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.collections)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source_rejected": self.source_rejected,
            "collections": [check.as_dict() for check in self.collections],
        }


def row_digest(
    doc_id: str, data: Any, created_at: datetime | None, updated_at: datetime | None, version: int | None, mask: int
) -> int:
    """A 128-bit digest of one document, leaving out the fields ``mask`` does not name."""
    payload = [
        doc_id,
        data,
        utc_text(created_at) if created_at is not None and mask & _CREATED else None,
        utc_text(updated_at) if updated_at is not None and mask & _UPDATED else None,
        version if mask & _VERSION else None,
    ]
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=16).digest(), "big")


def _mask(record: Record) -> int:
    return (
        (_CREATED if record.created_at is not None else 0)
        | (_UPDATED if record.updated_at is not None else 0)
        | (_VERSION if record.version is not None else 0)
    )


def compare(
    source: Iterable[Record | Reject], target: Iterator[StoredRow], collections: Sequence[str] | None = None
) -> VerifyReport:
    """Compare every source record with the target's rows (``collections`` only, when given)."""
    wanted = set(collections) if collections is not None else None
    checks: dict[str, CollectionCheck] = {}
    # collection → id → (mask, digest); the first copy of a repeated id, as import keeps it.
    expected: dict[str, dict[str, tuple[int, int]]] = {}
    rejected = 0

    def check_for(collection: str) -> CollectionCheck:
        found = checks.get(collection)
        if found is None:
            found = checks[collection] = CollectionCheck(collection)
        return found

    for item in source:
        if isinstance(item, Reject):
            rejected += 1
            continue
        if wanted is not None and item.collection not in wanted:
            continue
        ids = expected.setdefault(item.collection, {})
        if item.id in ids:
            continue
        mask = _mask(item)
        digest = row_digest(item.id, item.data, item.created_at, item.updated_at, item.version, mask)
        ids[item.id] = (mask, digest)
        check = check_for(item.collection)
        check.source_count += 1
        check.source_sum = (check.source_sum + digest) % _MODULUS

    for doc_id, collection, data_text, created_at, updated_at, version in target:
        if wanted is not None and collection not in wanted:
            continue
        check = check_for(collection)
        mask, want = expected.get(collection, {}).pop(doc_id, (_ALL, None))
        digest = row_digest(doc_id, _target_data(data_text), created_at, updated_at, version, mask)
        check.target_count += 1
        check.target_sum = (check.target_sum + digest) % _MODULUS
        if want is None:
            check.only_in_target.append(doc_id)
        elif want != digest:
            check.different.append(doc_id)

    for collection, left in expected.items():
        check_for(collection).only_in_source.extend(sorted(left))
    return VerifyReport(sorted(checks.values(), key=lambda check: check.collection), rejected)


def _target_data(text: str) -> Any:
    # Normalized like the source side, so a 1.0 some other writer stored compares equal to 1.
    value = json.loads(text)
    try:
        return normalize(value)
    except InvalidArgument:
        return value
