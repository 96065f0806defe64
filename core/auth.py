"""Roles and what each may do (API.md: ADMIN designs and configures, PARTNER records usage, VIEWER reads)."""

from __future__ import annotations

from enum import StrEnum

from core.values import immutable


class Role(StrEnum):
    ADMIN = "ADMIN"
    PARTNER = "PARTNER"
    VIEWER = "VIEWER"


class Action(StrEnum):
    READ = "READ"              # catalog, accounts, balances, usage, summaries
    RECORD_USAGE = "RECORD_USAGE"  # record and correct usage
    CONFIGURE = "CONFIGURE"    # catalog design, activation, subscriptions


ALLOWED: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.PARTNER: frozenset({Action.READ, Action.RECORD_USAGE}),
    Role.VIEWER: frozenset({Action.READ}),
}


@immutable
class Principal:
    """Who is calling: the tenant always comes from the key, never from input."""

    tenant: str
    roles: frozenset[Role]
    key_name: str | None = None

    def may(self, action: Action) -> bool:
        return any(action in ALLOWED[role] for role in self.roles)
