"""API keys: generated once, shown once, stored only as a SHA-256 hash bound to a tenant and roles.

A tenant's ADMIN manages its keys through the API (``createApiKey``, ``apiKeys``, ``revokeApiKey``); this
command line is for bootstrapping a tenant's first key on AWS (or any store):

    python -m infra.apikeys create --tenant acme [--roles ADMIN,PARTNER] [--name ci] [--key KEY]
    python -m infra.apikeys list --tenant acme
    python -m infra.apikeys revoke --key KEY            (or: revoke --tenant acme --id KEY_ID)

`create` prints the new key alone on stdout (shown once), and what it made on stderr.

Exit codes: 0 done; 1 nothing to revoke (no such key); 2 a mistyped command, role, tenant or name;
3 the store cannot be used (no AWS credentials, endpoint unreachable, table missing, access refused).
Errors are one line on stderr.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.auth import ApiKey, KeyRequest, Principal, Role
from infra import keys
from infra.items import ApiKeyItem

if TYPE_CHECKING:
    from collections.abc import Iterable

ENTRY_KIND = "ApiKeyEntry"


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_key() -> str:
    return "umk_" + secrets.token_urlsafe(32)


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


class ApiKeysRepository:
    """One tenant's keys: create (secret returned once), list (never a secret), revoke. Each write is one
    transaction over the key's two items (``infra.items.ApiKeyItem``)."""

    def __init__(self, tenant: str):
        self.tenant = tenant
        self.pk = keys.api_keys_pk(tenant)

    def create(self, request: KeyRequest, secret: str | None = None) -> tuple[ApiKey, str]:
        """Store a new key (a random secret unless given); returns it with its secret, which is not kept."""
        from pynamodb.exceptions import TransactWriteError
        from pynamodb.transactions import TransactWrite

        from core.errors import Conflict

        secret = secret or new_key()
        key_id, key_hash = keys.new_ulid(), hash_key(secret)
        fields: dict[str, Any] = dict(tenant=self.tenant, roles={r.value for r in request.roles},
                                      name=request.name, created_at=datetime.now(UTC).isoformat())
        auth_item = ApiKeyItem(keys.api_key_pk(key_hash), keys.API_KEY_SK, key_id=key_id, **fields)
        entry = ApiKeyItem(self.pk, keys.api_key_entry_sk(key_id), kind=ENTRY_KIND, key_hash=key_hash, **fields)
        try:
            with TransactWrite(connection=ApiKeyItem._get_connection().connection) as tx:
                tx.save(auth_item, condition=ApiKeyItem.pk.does_not_exist())
                tx.save(entry, condition=ApiKeyItem.pk.does_not_exist())
        except TransactWriteError as exc:
            if _cancelled(exc):
                raise Conflict("this key exists already (perhaps revoked): a key can be created only once",
                               field="key") from None
            raise
        return _record(entry, key_id), secret

    def get(self, key_id: str) -> ApiKey | None:
        entry = self._entry(key_id)
        return _record(entry, key_id) if entry else None

    def page(self, after: str | None, first: int) -> tuple[list[ApiKey], bool]:
        """Up to ``first`` keys after the key id ``after``, oldest first; and whether more exist."""
        condition = (ApiKeyItem.sk > keys.api_key_entry_sk(after) if after
                     else ApiKeyItem.sk.startswith(keys.API_KEY_ENTRY_PREFIX))
        found = [_record(item, item.sk.removeprefix(keys.API_KEY_ENTRY_PREFIX))
                 for item in ApiKeyItem.query(self.pk, condition, consistent_read=True, limit=first + 1)]
        return found[:first], len(found) > first

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key of this tenant; a key revoked already stays as it was. Unknown id: NotFound."""
        from pynamodb.exceptions import TransactWriteError
        from pynamodb.transactions import TransactWrite

        from core.errors import Conflict, NotFound

        entry = self._entry(key_id)
        if entry is None:
            raise NotFound("API key", key_id, "id")
        if entry.revoked:
            return _record(entry, key_id)
        now = datetime.now(UTC).isoformat()
        auth_item = ApiKeyItem(keys.api_key_pk(entry.key_hash), keys.API_KEY_SK)
        try:
            with TransactWrite(connection=ApiKeyItem._get_connection().connection) as tx:
                tx.update(entry, actions=[ApiKeyItem.revoked.set(now)], condition=ApiKeyItem.revoked.does_not_exist())
                tx.update(auth_item, actions=[ApiKeyItem.revoked.set(now)], condition=ApiKeyItem.pk.exists())
        except TransactWriteError as exc:
            if not _cancelled(exc):
                raise
            current = self._entry(key_id)
            if current is None or not current.revoked:
                raise Conflict("the key changed meanwhile; try again") from None
            return _record(current, key_id)  # revoked concurrently: the first revocation stands
        entry.revoked = now
        return _record(entry, key_id)

    def _entry(self, key_id: str) -> ApiKeyItem | None:
        if not key_id or len(key_id) > 64:
            return None
        try:
            return ApiKeyItem.get(self.pk, keys.api_key_entry_sk(key_id), consistent_read=True)
        except ApiKeyItem.DoesNotExist:
            return None


def create_key(tenant: str, roles: Iterable[Role], name: str | None = None, api_key: str | None = None) -> str:
    """Store a key (a new random one unless given) and return it; the caller shows it once."""
    from core.auth import key_request

    request = key_request(name or "unnamed", [Role(r).value for r in roles])
    return ApiKeysRepository(tenant).create(request, api_key)[1]


def revoke_key(api_key: str) -> ApiKey | None:
    """Revoke a key given its secret; None when no such key exists. Keys made before keys were listed per
    tenant (no id) are revoked on their only item."""
    try:
        item = ApiKeyItem.get(keys.api_key_pk(hash_key(api_key)), keys.API_KEY_SK, consistent_read=True)
    except ApiKeyItem.DoesNotExist:
        return None
    if item.key_id:
        return ApiKeysRepository(item.tenant).revoke(item.key_id)
    if not item.revoked:
        item.update(actions=[ApiKeyItem.revoked.set(datetime.now(UTC).isoformat())])
    return _record(item, "")


def _record(item: ApiKeyItem, key_id: str) -> ApiKey:
    return ApiKey(id=key_id, tenant=item.tenant, name=item.name or "", roles=frozenset(Role(r) for r in item.roles),
                  created_at=datetime.fromisoformat(item.created_at),
                  revoked_at=datetime.fromisoformat(item.revoked) if item.revoked else None)


def _cancelled(exc: Exception) -> bool:
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons) \
        or getattr(exc, "cause_response_code", None) == "TransactionCanceledException"


if __name__ == "__main__":
    from infra.apikeys_cli import main

    sys.exit(main())
