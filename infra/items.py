"""PynamoDB models of the catalog table. Every catalog record is one item: keys, its kind, and its fields as a map.

Stream images and API reads decode through the same models and the same codec (``infra.codec``).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import MapAttribute, UnicodeAttribute, UnicodeSetAttribute, VersionAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from infra.settings import Settings


class ResourceRefIndex(GlobalSecondaryIndex["CatalogItem"]):
    """GSI1: every record that points at a resource, to refuse deleting a resource still in use."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class CatalogItem(Model):
    class Meta:
        table_name = "usage-catalog"
        region = "us-east-1"
        billing_mode = "PAY_PER_REQUEST"
        max_retry_attempts = 8

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    data = MapAttribute[str, Any](default=dict)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    version = VersionAttribute()
    resource_refs = ResourceRefIndex()


class ApiKeyItem(Model):
    """An API key, stored by the SHA-256 of the key: the key itself is never stored.

    Two items per key, written and revoked together in one transaction: the one every request reads
    (``KEY#{sha256}`` / ``KEY``, with ``key_id``) and its entry in the tenant's list (``T#{tenant}#APIKEYS`` /
    ``APIKEY#{key_id}``, kind ``ApiKeyEntry``, with ``key_hash`` to find the first one on revocation).
    Keys made before the list existed have no ``key_id`` and no entry.
    """

    class Meta:
        table_name = "usage-catalog"
        region = "us-east-1"
        billing_mode = "PAY_PER_REQUEST"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute(default="ApiKey")
    tenant = UnicodeAttribute()
    roles = UnicodeSetAttribute()
    name = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    revoked = UnicodeAttribute(null=True)
    key_id = UnicodeAttribute(null=True)
    key_hash = UnicodeAttribute(null=True)


CATALOG_MODELS: list[type[Model]] = [CatalogItem, ApiKeyItem]


def bind_models(settings: Settings) -> None:
    """Point the PynamoDB models at the configured tables and endpoint (called at cold start, not import)."""
    for model in CATALOG_MODELS:
        meta: Any = model.Meta
        meta.table_name = settings.catalog_table
        meta.region = settings.region
        meta.host = settings.dynamodb_endpoint
        model._connection = None  # rebuilt lazily with the new settings
