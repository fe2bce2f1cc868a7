"""Who is calling: bearer JWTs verified with PyJWT, and the identity they carry.

The accepted algorithms come from configuration, never from the token, so
``alg=none`` and key-confusion tokens (HS256 signed with an RSA public key)
fail. ``exp`` is required; ``nbf`` is checked when present; ``iss`` and ``aud``
when configured. The tenant comes only from the verified ``tenant`` claim.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

ROLE_CLAIM = "roles"
TENANT_CLAIM = "tenant"


class AuthenticationError(Exception):
    """The credential is missing, malformed, or does not verify."""


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    tenant: str
    roles: frozenset[str]


#: The identity of the call being handled (None when authentication is off).
current_identity: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("identity", default=None)


@dataclass(frozen=True, slots=True)
class TokenVerifier:
    key: Any
    algorithms: tuple[str, ...]
    issuer: str | None = None
    audience: str | None = None
    leeway: float = 0.0

    @classmethod
    def from_settings(
        cls,
        secret: str | None,
        secret_file: Path | None,
        public_key_file: Path | None,
        algorithms: Sequence[str] = (),
        issuer: str | None = None,
        audience: str | None = None,
    ) -> TokenVerifier:
        """Exactly one key source; algorithms default to what that key can verify."""
        sources = [s for s in (secret, secret_file, public_key_file) if s]
        if len(sources) != 1:
            raise ValueError("authentication needs exactly one of JWT_SECRET, --jwt-secret-file, --jwt-public-key-file")
        if public_key_file is not None:
            key: Any = load_pem_public_key(public_key_file.read_bytes())
            if isinstance(key, rsa.RSAPublicKey):
                default: tuple[str, ...] = ("RS256",)
            elif isinstance(key, ec.EllipticCurvePublicKey):
                default = ("ES256",)
            else:
                raise ValueError(f"{public_key_file}: only RSA and EC public keys are supported")
        else:
            key = secret if secret else (secret_file.read_text().strip() if secret_file else "")
            if len(key) < 32:
                raise ValueError("the JWT secret must be at least 32 characters")
            default = ("HS256",)
        chosen = tuple(algorithms) or default
        if any(alg.lower() == "none" for alg in chosen):
            raise ValueError("the 'none' algorithm is never accepted")
        return cls(key, chosen, issuer, audience)

    def verify(self, token: str) -> Identity:
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=list(self.algorithms),
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": ["exp"], "verify_aud": self.audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid token: {exc}") from None
        tenant = claims.get(TENANT_CLAIM)
        if not isinstance(tenant, str) or not tenant:
            raise AuthenticationError(f"invalid token: no '{TENANT_CLAIM}' claim")
        roles = claims.get(ROLE_CLAIM, [])
        if isinstance(roles, str):
            roles = [roles]
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise AuthenticationError(f"invalid token: '{ROLE_CLAIM}' must be a list of strings")
        return Identity(subject=str(claims.get("sub", "")), tenant=tenant, roles=frozenset(roles))


def bearer_token(metadata: Sequence[tuple[str, str | bytes]]) -> str:
    """The one bearer token in the call's metadata; two ``authorization`` entries are refused."""
    values = [value for key, value in metadata if key.lower() == "authorization"]
    if not values:
        raise AuthenticationError("missing authorization metadata")
    if len(values) > 1:
        raise AuthenticationError("more than one authorization entry")
    value = values[0] if isinstance(values[0], str) else values[0].decode("latin-1")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("authorization must be 'Bearer <token>'")
    return token.strip()
