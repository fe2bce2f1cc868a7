"""What each role may call: RPCs, named queries and named operations.

Anything not allowed is denied. Rules are shell-style patterns (``*`` for all)
with an optional deny list that wins over allow. The default table reproduces
the legacy platform's API section: analytics queries and GDPR deletion are for
``admin``; ``GetPlatformInfo`` and ``GetMetrics`` are for ``admin`` and
``system``. ``docs/security.md`` shows it; a YAML file can replace it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from server.auth import Identity

KINDS = ("rpcs", "queries", "operations")


@dataclass(frozen=True, slots=True)
class Rule:
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    def permits(self, name: str) -> bool:
        if any(fnmatchcase(name, pattern) for pattern in self.deny):
            return False
        return any(fnmatchcase(name, pattern) for pattern in self.allow)


@dataclass(frozen=True, slots=True)
class Role:
    rules: Mapping[str, Rule] = field(default_factory=dict)

    def permits(self, kind: str, name: str) -> bool:
        rule = self.rules.get(kind)
        return rule is not None and rule.permits(name)


USER_RPCS = (
    "Insert",
    "InsertBatch",
    "Update",
    "Delete",
    "ExecuteQuery",
    "ExecuteRawQuery",
    "VectorSearch",
    "GraphTraverse",
    "ExecuteOperation",
    "HealthCheck",
)

DEFAULT_TABLE: dict[str, dict[str, dict[str, list[str]]]] = {
    "user": {
        "rpcs": {"allow": list(USER_RPCS)},
        "queries": {"allow": ["*"], "deny": ["user_metrics_daily", "user_trends"]},
        "operations": {"allow": ["*"], "deny": ["delete_user"]},
    },
    "admin": {"rpcs": {"allow": ["*"]}, "queries": {"allow": ["*"]}, "operations": {"allow": ["*"]}},
    "system": {"rpcs": {"allow": ["*"]}, "queries": {"allow": ["*"]}, "operations": {"allow": ["*"]}},
}


@dataclass(frozen=True, slots=True)
class AccessTable:
    roles: Mapping[str, Role]

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> AccessTable:
        roles = {}
        for role_name, kinds in table.items():
            if not isinstance(kinds, Mapping) or set(kinds) - set(KINDS):
                raise ValueError(f"role {role_name!r}: expected a mapping with {', '.join(KINDS)}")
            rules = {}
            for kind, rule in kinds.items():
                if not isinstance(rule, Mapping):
                    raise ValueError(f"role {role_name!r}, {kind}: expected {{allow: [...], deny: [...]}}")
                rules[kind] = Rule(tuple(map(str, rule.get("allow", ()))), tuple(map(str, rule.get("deny", ()))))
            roles[str(role_name)] = Role(rules)
        return cls(roles)

    @classmethod
    def default(cls) -> AccessTable:
        return cls.from_mapping(DEFAULT_TABLE)

    @classmethod
    def load(cls, path: Path) -> AccessTable:
        return cls.from_mapping(yaml.safe_load(path.read_text()) or {})

    def permits(self, identity: Identity, kind: str, name: str) -> bool:
        return any(self.roles[role].permits(kind, name) for role in identity.roles if role in self.roles)

    def role_names(self) -> Iterable[str]:
        return self.roles.keys()
