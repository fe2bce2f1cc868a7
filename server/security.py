"""Security settings turned into the objects the server runs with: the call guard
and the transport credentials. Refusing to start is better than starting open:
every inconsistency here stops start-up with a message."""

from __future__ import annotations

import ipaddress

import grpc

from server.access import AccessTable
from server.auth import TokenVerifier
from server.config import Settings
from server.guard import Guard
from server.rate_limit import Rate, RateLimiter


class SecurityConfigError(Exception):
    """The security settings cannot be used as given."""


def build_guard(settings: Settings, service_name: str) -> Guard:
    verifier = None
    access = None
    if settings.auth not in ("none", "jwt"):
        raise SecurityConfigError(f"--auth {settings.auth!r}: use 'jwt' or 'none'")
    if settings.authenticated:
        try:
            verifier = TokenVerifier.from_settings(
                settings.jwt_secret,
                settings.jwt_secret_file,
                settings.jwt_public_key_file,
                tuple(alg.strip() for alg in settings.jwt_algorithms.split(",") if alg.strip()),
                settings.jwt_issuer,
                settings.jwt_audience,
            )
            access = AccessTable.load(settings.roles_file) if settings.roles_file else AccessTable.default()
        except (ValueError, OSError) as exc:
            raise SecurityConfigError(str(exc)) from None
    limiter = None
    if settings.rate_limit:
        try:
            limiter = RateLimiter(Rate.parse(settings.rate_limit))
        except ValueError as exc:
            raise SecurityConfigError(f"--rate-limit: {exc}") from None
    return Guard(service_name, verifier, access, limiter)


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS (and mTLS) credentials, or None for plaintext where plaintext is allowed."""
    if settings.tls_cert or settings.tls_key:
        if not (settings.tls_cert and settings.tls_key):
            raise SecurityConfigError("TLS needs both --tls-cert and --tls-key")
        try:
            chain = (settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())
            client_ca = settings.tls_client_ca.read_bytes() if settings.tls_client_ca else None
        except OSError as exc:
            raise SecurityConfigError(f"cannot read TLS files: {exc}") from None
        return grpc.ssl_server_credentials([chain], root_certificates=client_ca, require_client_auth=bool(client_ca))
    if settings.tls_client_ca:
        raise SecurityConfigError("--tls-client-ca needs --tls-cert and --tls-key")
    if not settings.plaintext and not _loopback(settings.listen):
        raise SecurityConfigError(
            f"refusing plaintext on {settings.listen}: give --tls-cert/--tls-key, or --plaintext on to accept it"
        )
    return None


def _loopback(listen: str) -> bool:
    host = listen.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
