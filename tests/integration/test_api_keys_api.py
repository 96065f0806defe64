"""A tenant's API keys through GraphQL: createApiKey (the secret once, stored hashed), apiKeys, revokeApiKey —
ADMIN only, own tenant; a revoked key stops signing in."""

from __future__ import annotations

from typing import Any

from core.auth import Role
from infra import keys
from infra.apikeys import authenticate, hash_key
from infra.dynamo import dynamodb_client
from infra.dynamo_kit import from_attributes, key
from infra.settings import get_settings
from tests.builders import active_usage_catalog

CREATE = """mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
  secret record { id name roles createdAt revokedAt } errors { code message field } } }"""
REVOKE = """mutation($id: ID!) { revokeApiKey(id: $id) { record { id name roles revokedAt }
  errors { code message field } } }"""
LIST = """query($first: Int, $after: String) { apiKeys(first: $first, after: $after) {
  edges { cursor node { id name roles createdAt revokedAt } } pageInfo { hasNextPage endCursor } } }"""
RECORD = """mutation($records: [UsageRecordInput!]!) { recordUsage(records: $records) { accepted rejected
  results { errors { code message } } } }"""
USAGE = {"idempotencyKey": "k-1", "accountExternalId": "acme", "resourceCode": "DATA", "quantity": "1",
         "startTime": "2026-07-01T10:00:00Z"}


def create(api: Any, name: str, roles: list[str]) -> dict[str, Any]:
    return api(CREATE, {"input": {"name": name, "roles": roles}})["createApiKey"]  # type: ignore[no-any-return]


def all_keys(api: Any) -> list[dict[str, Any]]:
    return [e["node"] for e in api(LIST, {"first": 100})["apiKeys"]["edges"]]


def stored_items(secret: str, tenant: str, key_id: str) -> list[dict[str, Any]]:
    """The key's two items as stored (DynamoDB JSON)."""
    return [dynamodb_client().get_item(TableName=get_settings().catalog_table, Key=key(pk, sk),
                                       ConsistentRead=True)["Item"]
            for pk, sk in [(keys.api_key_pk(hash_key(secret)), keys.API_KEY_SK),
                           (keys.api_keys_pk(tenant), keys.api_key_entry_sk(key_id))]]


def test_an_admin_creates_a_partner_key_that_records_usage_until_it_is_revoked(api: Any, app: Any) -> None:
    from starlette.testclient import TestClient

    from graphql_api.app import create_app
    from graphql_api.ids import from_global_id

    active_usage_catalog(api.tenant)
    # GIVEN an ADMIN creates a PARTNER key
    created = create(api, "metering", ["PARTNER"])
    assert created["errors"] == []
    secret, record = created["secret"], created["record"]
    assert secret.startswith("umk_") and record["name"] == "metering" and record["roles"] == ["PARTNER"]
    assert record["revokedAt"] is None
    # THEN only its hash is stored, in both of its items, bound to the caller's tenant
    _, key_id = from_global_id(record["id"], "ApiKey") or ("", "")
    for item in stored_items(secret, api.tenant, key_id):
        assert from_attributes(item)["tenant"] == api.tenant and secret not in str(item)
    # WHEN the partner uses it
    partner = api.as_role(Role.PARTNER)
    partner.key = secret
    assert partner(RECORD, {"records": [USAGE]})["recordUsage"]["accepted"] == 1
    # AND it may not manage keys
    refused = partner.raw(LIST).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # WHEN the ADMIN revokes it
    revoked = api(REVOKE, {"id": record["id"]})["revokeApiKey"]
    assert revoked["errors"] == [] and revoked["record"]["revokedAt"] is not None
    # THEN the key is revoked in the store and a fresh app (no warm key cache) refuses it with 401
    assert all(from_attributes(item)["revoked"] for item in stored_items(secret, api.tenant, key_id))
    assert authenticate(secret) is None
    with TestClient(create_app()) as fresh:
        answer = fresh.post("/graphql", json={"query": RECORD, "variables": {"records": [USAGE]}},
                            headers={"Authorization": f"Bearer {secret}"})
        assert answer.status_code == 401
    # AND the list shows it revoked; revoking again changes nothing
    listed = {k["id"]: k for k in all_keys(api)}
    assert listed[record["id"]]["revokedAt"] == revoked["record"]["revokedAt"]
    again = api(REVOKE, {"id": record["id"]})["revokeApiKey"]
    assert again["record"]["revokedAt"] == revoked["record"]["revokedAt"]


def test_api_keys_lists_the_tenants_keys_in_creation_order_without_secrets_and_pages(api: Any, app: Any) -> None:
    from starlette.testclient import TestClient

    from infra.bootstrap import bootstrap_tenant
    from tests.conftest import Api

    # GIVEN two more keys of this tenant, and another tenant with keys of its own
    made = [create(api, name, roles)["record"] for name, roles in (("ci", ["VIEWER"]), ("ops", ["ADMIN", "VIEWER"]))]
    bootstrap_tenant(other := f"{api.tenant}-other")
    with TestClient(app) as client:
        Api(client, other)
    # WHEN the ADMIN pages through the list, two at a time
    seen, after = [], None
    while True:
        page = api(LIST, {"first": 2, "after": after})["apiKeys"]
        seen += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    # THEN it sees its own five keys (three made by the fixture, oldest first) and nothing of the other tenant
    assert [k["name"] for k in seen] == ["test-ADMIN", "test-PARTNER", "test-VIEWER", "ci", "ops"]
    assert seen[3:] == made and seen[4]["roles"] == ["ADMIN", "VIEWER"]
    assert all("secret" not in k and not any(str(v).startswith("umk_") for v in k.values()) for k in seen)


def test_only_admins_manage_keys(api: Any) -> None:
    key_id = create(api, "victim", ["VIEWER"])["record"]["id"]
    for role in (Role.PARTNER, Role.VIEWER):
        other = api.as_role(role)
        for query, variables in ((CREATE, {"input": {"name": "x", "roles": ["ADMIN"]}}), (REVOKE, {"id": key_id}),
                                 (LIST, {})):
            body = other.raw(query, variables).json()
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (role, body)
    assert {k["id"]: k for k in all_keys(api)}[key_id]["revokedAt"] is None


def test_bad_key_requests_are_typed_errors_and_other_tenants_keys_cannot_be_revoked(api: Any, app: Any) -> None:
    from starlette.testclient import TestClient

    from infra.bootstrap import bootstrap_tenant
    from tests.conftest import Api

    def errors(payload: dict[str, Any]) -> list[tuple[str, str]]:
        return [(e["code"], e["field"]) for e in payload["errors"]]

    assert errors(create(api, " ", [])) == [("REQUIRED", "name"), ("REQUIRED", "roles")]
    assert errors(create(api, "x" * 101, ["VIEWER"])) == [("INVALID_VALUE", "name")]
    mistyped = api.raw(CREATE, {"input": {"name": "x", "roles": ["PARTNR"]}}).json()
    assert "PARTNR" in mistyped["errors"][0]["message"] and not mistyped.get("data")
    assert errors(api(REVOKE, {"id": "not-an-id"})["revokeApiKey"]) == [("NOT_FOUND", "id")]
    # GIVEN a key of another tenant
    bootstrap_tenant(other := f"{api.tenant}-other")
    with TestClient(app) as client:
        theirs = create(Api(client, other), "theirs", ["ADMIN"])
    # THEN this tenant's ADMIN cannot revoke it: it does not exist here
    assert errors(api(REVOKE, {"id": theirs["record"]["id"]})["revokeApiKey"]) == [("NOT_FOUND", "id")]
    assert authenticate(theirs["secret"]) is not None
