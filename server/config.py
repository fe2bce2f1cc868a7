"""Server settings: command-line flags, each with an environment variable behind it.

A flag wins over its variable, the variable over the default. ``public()`` is the
view GetPlatformInfo and the logs show: the database password never appears.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from server.store.statements import DEFAULT_PAGE, MAX_BATCH, MAX_PAGE

DEFAULT_LISTEN = "127.0.0.1:9090"


@dataclass(frozen=True, slots=True)
class Settings:
    listen: str = DEFAULT_LISTEN
    database_url: str | None = None
    data_dir: Path = Path(".data/postgres")
    tenant: str = "default"
    grace_period: float = 10.0
    default_page: int = DEFAULT_PAGE
    max_page: int = MAX_PAGE
    max_batch: int = MAX_BATCH
    pool_min: int = 2
    pool_max: int = 10
    pool_timeout: float = 5.0
    max_message_bytes: int = 16 * 1024 * 1024
    health_interval: float = 1.0
    default_deadline: float = 30.0
    request_id_window: float = 24 * 3600.0
    workers: int = 0
    #: ``uvloop`` (libuv) or ``asyncio`` (the standard library's loop): see docs/benchmarks.md.
    event_loop: str = "uvloop"
    #: Set by the parent of ``--workers``: the database it resolved (the embedded one, started once).
    resolved_database_url: str | None = None
    #: Which worker this process is (0 when there is one).
    worker: int = 0
    config: Path | None = None
    cache_entries: int = 10_000
    cache_bytes: int = 64 * 1024 * 1024
    log_level: str = "INFO"
    #: ``hnsw``: pgvector HNSW indexes where installed; ``exact``: every vector search scans (docs/vector-graph.md).
    vector_index: str = "hnsw"
    # -- security (docs/security.md) --
    auth: str = "none"
    jwt_secret: str | None = None
    jwt_secret_file: Path | None = None
    jwt_public_key_file: Path | None = None
    jwt_algorithms: str = ""
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    roles_file: Path | None = None
    reflection: bool | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    plaintext: bool = False
    max_concurrent_calls: int = 1000
    rate_limit: str | None = None
    schema_database_url: str | None = None
    grant_to: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.auth == "jwt"

    @property
    def reflection_enabled(self) -> bool:
        """Reflection is on for local use, off once tokens are required, unless asked for."""
        return (not self.authenticated) if self.reflection is None else self.reflection

    def public(self, database_in_use: str | None = None) -> dict[str, Any]:
        """Settings safe to show anyone: the connection string with its password masked."""
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["data_dir"] = str(self.data_dir)
        shown["config"] = str(self.config) if self.config else None
        shown["database_url"] = mask_password(database_in_use or self.database_url or "")
        shown["resolved_database_url"] = None
        shown["schema_database_url"] = mask_password(self.schema_database_url or "")
        shown["embedded_database"] = self.database_url is None
        shown["jwt_secret"] = "***" if self.jwt_secret else None
        for name in ("jwt_secret_file", "jwt_public_key_file", "roles_file", "tls_cert", "tls_key", "tls_client_ca"):
            shown[name] = str(shown[name]) if shown[name] else None
        shown["reflection"] = self.reflection_enabled
        return shown


def _one_of(*choices: str) -> Callable[[str], str]:
    """A flag type accepting exactly ``choices``; its name is what argparse and the errors show."""

    def check(text: str) -> str:
        if text not in choices:
            raise ValueError(f"{text!r} is not {' or '.join(choices)}")
        return text

    check.__name__ = " or ".join(choices)
    return check


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{text!r} is not on/off")


#: flag → (environment variable, type, help)
_OPTIONS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "listen": ("PERSISTENCE_LISTEN", str, f"HOST:PORT to serve on (default {DEFAULT_LISTEN})"),
    "database_url": ("POSTGRES_CONNECTION_STRING", str, "PostgreSQL to use; without it an embedded one starts"),
    "data_dir": ("PERSISTENCE_DATA_DIR", Path, "where the embedded PostgreSQL keeps its data (default .data/postgres)"),
    "tenant": ("PERSISTENCE_TENANT", str, "tenant every row is written under (default 'default')"),
    "grace_period": ("PERSISTENCE_GRACE_PERIOD", float, "seconds in-flight calls may finish on shutdown (default 10)"),
    "default_page": ("PERSISTENCE_DEFAULT_PAGE", int, "results for a query with limit 0 (default 1000)"),
    "max_page": ("PERSISTENCE_MAX_PAGE", int, "largest accepted query limit (default 10000)"),
    "max_batch": ("PERSISTENCE_MAX_BATCH", int, "most records one InsertBatch may carry (default 10000)"),
    "pool_min": ("PERSISTENCE_POOL_MIN", int, "database connections kept open (default 2)"),
    "pool_max": ("PERSISTENCE_POOL_MAX", int, "most database connections (default 10)"),
    "pool_timeout": ("PERSISTENCE_POOL_TIMEOUT", float, "seconds a call waits for a connection (default 5)"),
    "max_message_bytes": ("PERSISTENCE_MAX_MESSAGE_BYTES", int, "largest gRPC message accepted (default 16 MiB)"),
    "default_deadline": (
        "PERSISTENCE_DEFAULT_DEADLINE",
        float,
        "seconds a call without a deadline may spend in the database (default 30)",
    ),
    "workers": (
        "PERSISTENCE_WORKERS",
        int,
        "server processes sharing the port (default 0: one per core)",
    ),
    "event_loop": (
        "PERSISTENCE_EVENT_LOOP",
        _one_of("uvloop", "asyncio"),
        "'uvloop' (default; fewer CPU cycles per call) or 'asyncio' (the standard library's loop)",
    ),
    "request_id_window": (
        "PERSISTENCE_REQUEST_ID_WINDOW",
        float,
        "seconds a request id's outcome is kept for retries (default 86400)",
    ),
    "health_interval": ("PERSISTENCE_HEALTH_INTERVAL", float, "seconds between database health probes (default 1)"),
    "config": ("PERSISTENCE_CONFIG", Path, "YAML file of named queries and operations (the legacy file works)"),
    "cache_entries": ("PERSISTENCE_CACHE_ENTRIES", int, "most cached named-query answers (default 10000)"),
    "cache_bytes": ("PERSISTENCE_CACHE_BYTES", int, "most bytes of cached answers (default 64 MiB)"),
    "log_level": ("PERSISTENCE_LOG_LEVEL", str, "DEBUG, INFO, WARNING or ERROR (default INFO)"),
    "vector_index": (
        "PERSISTENCE_VECTOR_INDEX",
        _one_of("hnsw", "exact"),
        "'hnsw': HNSW indexes where pgvector is installed (default); 'exact': vector searches always scan",
    ),
    "auth": ("PERSISTENCE_AUTH", str, "'jwt' requires a bearer token on every call (default 'none')"),
    "jwt_secret_file": ("JWT_SECRET_FILE", Path, "file holding the HS256 secret (or set JWT_SECRET)"),
    "jwt_public_key_file": ("JWT_PUBLIC_KEY_FILE", Path, "PEM public key for RS256/ES256 tokens"),
    "jwt_algorithms": ("JWT_ALGORITHMS", str, "accepted algorithms, comma-separated (default: what the key verifies)"),
    "jwt_issuer": ("JWT_ISSUER", str, "required 'iss' claim"),
    "jwt_audience": ("JWT_AUDIENCE", str, "required 'aud' claim"),
    "roles_file": ("PERSISTENCE_ROLES_FILE", Path, "YAML role table replacing the default (docs/security.md)"),
    "reflection": ("PERSISTENCE_REFLECTION", _flag, "serve gRPC reflection (default: on without auth, off with)"),
    "tls_cert": ("PERSISTENCE_TLS_CERT", Path, "PEM certificate chain: serve TLS"),
    "tls_key": ("PERSISTENCE_TLS_KEY", Path, "PEM private key for --tls-cert"),
    "tls_client_ca": ("PERSISTENCE_TLS_CLIENT_CA", Path, "PEM CA bundle: require client certificates (mTLS)"),
    "plaintext": ("PERSISTENCE_PLAINTEXT", _flag, "allow plaintext on a non-loopback address (default off)"),
    "max_concurrent_calls": ("PERSISTENCE_MAX_CONCURRENT_CALLS", int, "calls beyond this are refused (default 1000)"),
    "rate_limit": ("PERSISTENCE_RATE_LIMIT", str, "per-caller limit like 1000/hour (default none)"),
    "schema_database_url": ("POSTGRES_SCHEMA_CONNECTION_STRING", str, "owner connection for creating the table"),
    "grant_to": ("PERSISTENCE_GRANT_TO", str, "role the owner connection grants table access to"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for name, (env, kind, help_text) in _OPTIONS.items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, help=f"{help_text} [env {env}]")


def from_arguments(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> Settings:
    values: dict[str, Any] = {}
    for name, (env, kind, _help) in _OPTIONS.items():
        given = getattr(args, name, None)
        if given is not None:
            values[name] = given
        elif environ.get(env):
            try:
                values[name] = kind(environ[env])
            except ValueError:
                raise SystemExit(
                    f"persistence-server: ${env}={environ[env]!r} is not a valid {getattr(kind, '__name__', 'value')}"
                ) from None
    if environ.get("JWT_SECRET"):
        # Secrets come from the environment only: a flag would show in `ps`.
        values["jwt_secret"] = environ["JWT_SECRET"]
    return Settings(**values)


def parse(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> Settings:
    parser = argparse.ArgumentParser(prog="persistence-server")
    add_arguments(parser)
    return from_arguments(parser.parse_args(argv), environ)


def mask_password(conninfo: str) -> str:
    """The connection string with any password replaced by ``***``."""
    if not conninfo:
        return ""
    try:
        parts = conninfo_to_dict(conninfo)
    except Exception:
        return "<unparseable connection string>"
    if parts.get("password"):
        parts["password"] = "***"
    return make_conninfo(**{key: str(value) for key, value in parts.items() if value is not None})
