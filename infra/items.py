"""The catalog table's items as plain records, written and read through the one codec (``infra.dynamo_kit``).

Every catalog record is one ``CatalogItem``: its keys, its kind (the record type), its fields as the ``data`` map
(``infra.codec.encode``: Decimals and datetimes as strings, so nothing passes through a float), the ``version``
every update and delete is conditioned on, and ``gsi1pk``/``gsi1sk`` on records that point at a resource. The
journals of large guided setups and activations are ``CatalogItem``s too (kinds ``SetupJournal`` and
``ActivationJournal``).

An API key is two ``ApiKeyItem``s, written and revoked together in one transaction and stored by the SHA-256 of
the key (the key itself is never stored): the one every request reads (``KEY#{sha256}`` / ``KEY``, with
``key_id``) and its entry in the tenant's list (``T#{tenant}#APIKEYS`` / ``APIKEY#{key_id}``, kind
``ApiKeyEntry``, with ``key_hash`` to find the first one on revocation). Keys made before the list existed have
no ``key_id`` and no entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.dynamo_kit import from_attributes, to_attributes

#: the attribute every catalog write conditions on (``#v = :v``) and increments
VERSION = "version"


@dataclass(frozen=True, slots=True)
class CatalogItem:
    pk: str
    sk: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    version: int | None = None
    gsi1pk: str | None = None
    gsi1sk: str | None = None

    def to_item(self) -> dict[str, Any]:
        """The item as AttributeValues (attributes that are None are left out; inside ``data`` None is NULL)."""
        return to_attributes({"pk": self.pk, "sk": self.sk, "kind": self.kind, "data": self.data,
                              VERSION: self.version, "gsi1pk": self.gsi1pk, "gsi1sk": self.gsi1sk})

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> CatalogItem:
        plain = from_attributes(item)
        version = plain.get(VERSION)
        return cls(plain["pk"], plain["sk"], plain.get("kind", ""), plain.get("data") or {},
                   None if version is None else int(version), plain.get("gsi1pk"), plain.get("gsi1sk"))


@dataclass(frozen=True, slots=True)
class ApiKeyItem:
    pk: str
    sk: str
    tenant: str
    roles: frozenset[str]
    created_at: str  # datetime.isoformat(), as the first keys were written
    kind: str = "ApiKey"
    name: str | None = None
    revoked: str | None = None
    key_id: str | None = None
    key_hash: str | None = None

    def to_item(self) -> dict[str, Any]:
        return to_attributes({"pk": self.pk, "sk": self.sk, "kind": self.kind, "tenant": self.tenant,
                              "roles": set(self.roles), "name": self.name, "created_at": self.created_at,
                              "revoked": self.revoked, "key_id": self.key_id, "key_hash": self.key_hash})

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ApiKeyItem:
        plain = from_attributes(item)
        return cls(plain["pk"], plain["sk"], plain["tenant"], frozenset(plain.get("roles") or ()),
                   plain["created_at"], plain.get("kind", "ApiKey"), plain.get("name"), plain.get("revoked"),
                   plain.get("key_id"), plain.get("key_hash"))
