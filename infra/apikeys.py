"""API keys: generated once, shown once, stored only as a SHA-256 hash bound to a tenant and roles.

    python -m infra.apikeys create --tenant acme --roles ADMIN,PARTNER [--name ci] [--key KEY]
    python -m infra.apikeys revoke --key KEY
"""

from __future__ import annotations

import hashlib
import secrets
import sys
from datetime import UTC, datetime

from core.auth import Principal, Role
from infra import keys
from infra.items import ApiKeyItem


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_key() -> str:
    return "umk_" + secrets.token_urlsafe(32)


def create_key(tenant: str, roles: set[Role], name: str | None = None, api_key: str | None = None) -> str:
    """Store a key (a new random one unless given) and return it; the caller shows it once."""
    if not roles:
        raise ValueError("a key needs at least one role")
    api_key = api_key or new_key()
    ApiKeyItem(keys.api_key_pk(hash_key(api_key)), keys.API_KEY_SK, tenant=tenant,
               roles={r.value for r in roles}, name=name, created_at=datetime.now(UTC).isoformat()).save()
    return api_key


def authenticate(api_key: str) -> Principal | None:
    """The principal of a valid, unrevoked key; None otherwise."""
    if not api_key or len(api_key) > 200:
        return None
    try:
        item = ApiKeyItem.get(keys.api_key_pk(hash_key(api_key)), keys.API_KEY_SK)
    except ApiKeyItem.DoesNotExist:
        return None
    if item.revoked:
        return None
    return Principal(item.tenant, frozenset(Role(r) for r in item.roles), item.name)


def revoke_key(api_key: str) -> bool:
    try:
        item = ApiKeyItem.get(keys.api_key_pk(hash_key(api_key)), keys.API_KEY_SK)
    except ApiKeyItem.DoesNotExist:
        return False
    item.update(actions=[ApiKeyItem.revoked.set(datetime.now(UTC).isoformat())])
    return True


def main(argv: list[str] | None = None) -> int:
    import argparse  # the command line's alone: the API imports this module to authenticate

    from infra.bootstrap import bootstrap_tenant, connect

    parser = argparse.ArgumentParser(prog="python -m infra.apikeys", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create a key for a tenant (creates the tenant's defaults if new)")
    create.add_argument("--tenant", required=True)
    create.add_argument("--roles", default="ADMIN", help="comma-separated: ADMIN,PARTNER,VIEWER")
    create.add_argument("--name")
    create.add_argument("--key", help="use this key instead of a random one")
    revoke = sub.add_parser("revoke", help="revoke a key")
    revoke.add_argument("--key", required=True)
    args = parser.parse_args(argv)
    connect()
    if args.command == "create":
        roles = {Role(r.strip().upper()) for r in args.roles.split(",") if r.strip()}
        bootstrap_tenant(args.tenant)
        print(create_key(args.tenant, roles, args.name, args.key))
        return 0
    return 0 if revoke_key(args.key) else 1


if __name__ == "__main__":
    sys.exit(main())
