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
from dataclasses import replace
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from core.auth import ApiKey, KeyRequest, Principal, Role
from infra import keys
from infra.dynamo import dynamodb_client
from infra.dynamo_kit import TransactionCancelled, key, query_items, to_attributes, transact_write
from infra.items import ApiKeyItem
from infra.settings import get_settings
from infra.table_repo import TableRepository

if TYPE_CHECKING:
    from collections.abc import Iterable

ENTRY_KIND = "ApiKeyEntry"
#: sets ``revoked`` (``:now``)
SET_REVOKED = {"UpdateExpression": "SET #r = :now", "ExpressionAttributeNames": {"#r": "revoked"}}


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_key() -> str:
    return "umk_" + secrets.token_urlsafe(32)


def _read(client: Any, table: str, pk: str, sk: str, consistent: bool = True) -> ApiKeyItem | None:
    raw = client.get_item(TableName=table, Key=key(pk, sk), ConsistentRead=consistent).get("Item")
    return ApiKeyItem.from_item(raw) if raw is not None else None


def authenticate(api_key: str) -> Principal | None:
    """The principal of a valid, unrevoked key; None otherwise."""
    if not api_key or len(api_key) > 200:
        return None
    item = _read(dynamodb_client(), get_settings().catalog_table, keys.api_key_pk(hash_key(api_key)),
                 keys.API_KEY_SK, consistent=False)
    if item is None or item.revoked:
        return None
    return Principal(item.tenant, frozenset(Role(r) for r in item.roles), item.name)


class ApiKeysRepository(TableRepository):
    """One tenant's keys: create (secret returned once), list (never a secret), revoke. Each write is one
    transaction over the key's two items (``infra.items.ApiKeyItem``)."""

    table_setting = "catalog_table"

    def __init__(self, tenant: str, client: Any | None = None, table: str | None = None):
        super().__init__(tenant, client, table)
        self.pk = keys.api_keys_pk(tenant)

    def create(self, request: KeyRequest, secret: str | None = None) -> tuple[ApiKey, str]:
        """Store a new key (a random secret unless given); returns it with its secret, which is not kept."""
        from core.errors import Conflict

        secret = secret or new_key()
        key_id, key_hash = keys.new_ulid(), hash_key(secret)
        roles = frozenset(r.value for r in request.roles)
        created_at = datetime.now(UTC).isoformat()
        auth_item = ApiKeyItem(keys.api_key_pk(key_hash), keys.API_KEY_SK, self.tenant, roles, created_at,
                               name=request.name, key_id=key_id)
        entry = ApiKeyItem(self.pk, keys.api_key_entry_sk(key_id), self.tenant, roles, created_at, kind=ENTRY_KIND,
                           name=request.name, key_hash=key_hash)
        try:
            transact_write(self.client, [
                {"Put": {"TableName": self.table, "Item": item.to_item(),
                         "ConditionExpression": "attribute_not_exists(pk)"}} for item in (auth_item, entry)],
                token=True)
        except TransactionCancelled:
            raise Conflict("this key exists already (perhaps revoked): a key can be created only once",
                           field="key") from None
        return _record(entry, key_id), secret

    def get(self, key_id: str) -> ApiKey | None:
        entry = self._entry(key_id)
        return _record(entry, key_id) if entry else None

    def page(self, after: str | None, first: int) -> tuple[list[ApiKey], bool]:
        """Up to ``first`` keys after the key id ``after``, oldest first; and whether more exist."""
        if after:
            condition, bound = "pk = :pk AND sk > :bound", keys.api_key_entry_sk(after)
        else:
            condition, bound = "pk = :pk AND begins_with(sk, :bound)", keys.API_KEY_ENTRY_PREFIX
        items = query_items(self.client, TableName=self.table, ConsistentRead=True, Limit=first + 1,
                            KeyConditionExpression=condition,
                            ExpressionAttributeValues=to_attributes({":pk": self.pk, ":bound": bound}))
        found = [_record(item, item.sk.removeprefix(keys.API_KEY_ENTRY_PREFIX))
                 for item in map(ApiKeyItem.from_item, islice(items, first + 1))]
        return found[:first], len(found) > first

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key of this tenant; a key revoked already stays as it was. Unknown id: NotFound."""
        from core.errors import Conflict, NotFound

        entry = self._entry(key_id)
        if entry is None:
            raise NotFound("API key", key_id, "id")
        if entry.revoked:
            return _record(entry, key_id)
        now = datetime.now(UTC).isoformat()
        revoke = {**SET_REVOKED, "ExpressionAttributeValues": to_attributes({":now": now})}
        try:
            transact_write(self.client, [
                {"Update": {"TableName": self.table, "Key": key(entry.pk, entry.sk), **revoke,
                            "ConditionExpression": "attribute_not_exists(#r)"}},
                {"Update": {"TableName": self.table, "Key": key(keys.api_key_pk(entry.key_hash or ""), keys.API_KEY_SK),
                            **revoke, "ConditionExpression": "attribute_exists(pk)"}}], token=True)
        except TransactionCancelled:
            current = self._entry(key_id)
            if current is None or not current.revoked:
                raise Conflict("the key changed meanwhile; try again") from None
            return _record(current, key_id)  # revoked concurrently: the first revocation stands
        return _record(replace(entry, revoked=now), key_id)

    def _entry(self, key_id: str) -> ApiKeyItem | None:
        if not key_id or len(key_id) > 64:
            return None
        return _read(self.client, self.table, self.pk, keys.api_key_entry_sk(key_id))


def create_key(tenant: str, roles: Iterable[Role], name: str | None = None, api_key: str | None = None) -> str:
    """Store a key (a new random one unless given) and return it; the caller shows it once."""
    from core.auth import key_request

    request = key_request(name or "unnamed", [Role(r).value for r in roles])
    return ApiKeysRepository(tenant).create(request, api_key)[1]


def revoke_key(api_key: str) -> ApiKey | None:
    """Revoke a key given its secret; None when no such key exists. Keys made before keys were listed per
    tenant (no id) are revoked on their only item."""
    client, table = dynamodb_client(), get_settings().catalog_table
    item = _read(client, table, keys.api_key_pk(hash_key(api_key)), keys.API_KEY_SK)
    if item is None:
        return None
    if item.key_id:
        return ApiKeysRepository(item.tenant).revoke(item.key_id)
    if not item.revoked:
        now = datetime.now(UTC).isoformat()
        client.update_item(TableName=table, Key=key(item.pk, item.sk), **SET_REVOKED,
                           ExpressionAttributeValues=to_attributes({":now": now}))
        item = replace(item, revoked=now)
    return _record(item, "")


def _record(item: ApiKeyItem, key_id: str) -> ApiKey:
    return ApiKey(id=key_id, tenant=item.tenant, name=item.name or "", roles=frozenset(Role(r) for r in item.roles),
                  created_at=datetime.fromisoformat(item.created_at),
                  revoked_at=datetime.fromisoformat(item.revoked) if item.revoked else None)


if __name__ == "__main__":
    from infra.apikeys_cli import main

    sys.exit(main())
