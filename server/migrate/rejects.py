"""The reject file: one JSON line per refused source row, with where it was and why.

Each line holds ``source``, ``line`` (files) or ``key`` (tables), ``reason`` and
``raw`` (the row as read), so a fixed copy of the rows can be imported again
with ``migrate import --jsonl`` once the reasons are dealt with. The file is
rewritten by every run: after a rerun it lists exactly the rows still refused.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import IO

from server.migrate.records import Reject

DEFAULT_PATH = "migrate-rejects.jsonl"


class RejectFile:
    """Writes rejects as they come (a crash loses none already reported) and counts them."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.count = 0
        self._stream: IO[str] = self.path.open("w", encoding="utf-8", buffering=1)

    def add(self, reject: Reject) -> None:
        self._stream.write(reject.as_json() + "\n")
        self.count += 1

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> RejectFile:
        return self

    def __exit__(
        self, _kind: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()
