"""Roles and what each may do (API.md: ADMIN designs and configures, PARTNER records usage, VIEWER reads),
and the rules of a tenant's API keys (a name, at least one role; the secret itself is infra's business)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from core.errors import Collector, ErrorCode
from core.values import immutable


class Role(StrEnum):
    ADMIN = "ADMIN"
    PARTNER = "PARTNER"
    VIEWER = "VIEWER"


class Action(StrEnum):
    READ = "READ"              # catalog, accounts, balances, usage, summaries
    RECORD_USAGE = "RECORD_USAGE"  # record and correct usage
    CONFIGURE = "CONFIGURE"    # catalog design, activation, subscriptions
    MANAGE_KEYS = "MANAGE_KEYS"  # create, list and revoke the tenant's API keys


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


MAX_KEY_NAME = 100


@immutable
class ApiKey:
    """A tenant's API key as it is listed: never the secret, which is shown once when the key is created."""

    id: str
    tenant: str
    name: str
    roles: frozenset[Role]
    created_at: datetime
    revoked_at: datetime | None = None


@immutable
class KeyRequest:
    """A checked request for a new key."""

    name: str
    roles: frozenset[Role]


def key_request(name: str | None, roles: Iterable[str], field_prefix: str = "") -> KeyRequest:
    """Check a new key's name and roles (role names as text, any case); raises every problem at once."""
    errors = Collector()
    clean_name = (name or "").strip()
    if not clean_name:
        errors.add(ErrorCode.REQUIRED, "a key needs a name (what or who uses it)", f"{field_prefix}name")
    elif len(clean_name) > MAX_KEY_NAME:
        errors.add(ErrorCode.INVALID_VALUE, f"name must be at most {MAX_KEY_NAME} characters", f"{field_prefix}name")
    parsed: set[Role] = set()
    texts = [str(r).strip() for r in roles if str(r).strip()]
    for text in texts:
        try:
            parsed.add(Role(text.upper()))
        except ValueError:
            errors.add(ErrorCode.INVALID_VALUE, f"unknown role {text!r}: expected "
                       f"{', '.join(r.value for r in Role)}", f"{field_prefix}roles")
    if not texts:
        errors.add(ErrorCode.REQUIRED, f"a key needs at least one role ({', '.join(r.value for r in Role)})",
                   f"{field_prefix}roles")
    errors.raise_if_any()
    return KeyRequest(clean_name, frozenset(parsed))


def check_tenant(tenant: str, field: str = "tenant") -> None:
    """Tenant names are codes: 1–64 letters, digits, '_', '.' or '-' (they are part of every key)."""
    from core.catalog import CODE_PATTERN  # the catalog's modules are not needed to authenticate a request

    if not re.match(CODE_PATTERN, tenant or ""):
        errors = Collector()
        errors.add(ErrorCode.INVALID_VALUE, f"tenant {tenant!r} must be 1–64 letters, digits, '_', '.' or '-', "
                   "starting with a letter or digit", field)
        errors.raise_if_any()
