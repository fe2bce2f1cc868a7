"""``migrate export``: documents to JSON Lines, the very format ``migrate import`` reads.

A backup taken before each cutover step, and the way back: exporting a tenant
and importing the file elsewhere (or into the old platform's tooling) restores
ids, timestamps, versions and data exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import IO

from server.migrate.jsonl import format_line
from server.migrate.progress import Progress, Silent
from server.store.bulk import StoredRow


def run_export(rows: Iterable[StoredRow], stream: IO[str], progress: Progress | None = None) -> Counter[str]:
    """Write one line per row; returns how many documents each collection had."""
    progress = progress or Silent()
    written: Counter[str] = Counter()
    done = 0
    for row in rows:
        stream.write(format_line(row))
        stream.write("\n")
        written[row[1]] += 1
        done += 1
        if done % 1000 == 0:
            progress.update(done)
    progress.finish(done)
    return written
