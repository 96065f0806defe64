"""The catalog table through the data-access toolkit: the stored item layout, optimistic concurrency on the
``version`` read, and the typed errors a lost race or a taken key becomes (single writes and transactions)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from core.catalog import (
    RateCard,
    RateCardEntry,
    RateCardType,
    RateTier,
    RecordStatus,
    ResourceCategory,
    UnitOfMeasure,
    UsageResource,
)
from core.errors import DomainError, ErrorCode
from core.rating.model import AdjustmentType, TierMode
from infra import keys
from infra.activation_repo import ChainWriter
from infra.catalog_repo import CatalogRepository
from infra.dynamo import dynamodb_client
from infra.dynamo_kit import key
from infra.settings import get_settings

JAN = datetime(2026, 1, 1, tzinfo=UTC)


def stored(tenant: str, sk: str) -> dict[str, Any] | None:
    """The item as DynamoDB holds it (DynamoDB JSON)."""
    answer = dynamodb_client().get_item(TableName=get_settings().catalog_table, Key=key(keys.tenant_pk(tenant), sk),
                                        ConsistentRead=True)
    return answer.get("Item")


def resource(code: str = "TEXTS", name: str = "Texts", token: str | None = None) -> UsageResource:
    return UsageResource(code, name, ResourceCategory.USAGE, "COUNT", "EA", token_resource_code=token,
                         tokens_per_unit=Decimal("0.5") if token else None)


def test_a_record_is_stored_as_keys_kind_data_map_version_and_its_reference(tenant: str) -> None:
    # GIVEN a resource pointing at a token resource, inserted and then replaced once
    repo = CatalogRepository(tenant)
    repo.insert(first := resource(token="TOKENS"))
    repo.replace(first, resource(name="Text messages", token="TOKENS"))
    # THEN its item holds the keys, the kind, the fields as a map (Decimals as strings, None as NULL), the
    # version the replace incremented, and the GSI1 keys of the resource it points at
    assert stored(tenant, "RES#TEXTS") == {
        "pk": {"S": f"T#{tenant}"}, "sk": {"S": "RES#TEXTS"}, "kind": {"S": "UsageResource"}, "version": {"N": "2"},
        "gsi1pk": {"S": f"T#{tenant}#REF#TOKENS"}, "gsi1sk": {"S": "RES#TEXTS"},
        "data": {"M": {"code": {"S": "TEXTS"}, "name": {"S": "Text messages"}, "category": {"S": "USAGE"},
                       "unit_class_code": {"S": "COUNT"}, "default_unit_code": {"S": "EA"},
                       "token_resource_code": {"S": "TOKENS"}, "tokens_per_unit": {"S": "0.5"},
                       "usage_definition_product_code": {"NULL": True}, "status": {"S": "DRAFT"}}}}
    # AND it reads back equal through a fresh repository, and the resource it points at counts as referenced
    fresh = CatalogRepository(tenant)
    assert fresh.get(UsageResource, "TEXTS") == resource(name="Text messages", token="TOKENS")
    assert fresh.resource_is_referenced("TOKENS") and not fresh.resource_is_referenced("NOTHING")


def test_nested_values_read_back_exactly(tenant: str) -> None:
    # GIVEN a rate card entry with tiers (Decimals, an open upper bound, enums, a datetime)
    repo = CatalogRepository(tenant)
    entry = RateCardEntry(keys.rate_entry_id("CARD1", keys.new_ulid()), "CARD1", "TEXTS", "CELL", Decimal("0.75"),
                          "USD", JAN, tier_mode=TierMode.VOLUME, tiers=(
                              RateTier(Decimal(0), Decimal("100.5"), AdjustmentType.AMOUNT, Decimal("0.1")),
                              RateTier(Decimal("100.5"), None, AdjustmentType.PERCENTAGE, Decimal(20),
                                       flat_fee=Decimal("1.000")),
                          ))
    repo.transact(inserts=[RateCard("CARD1", "Base", RateCardType.BASE, JAN), entry])
    # THEN a fresh repository reads it back equal, trailing zeros and all
    cards, entries = CatalogRepository(tenant).rate_cards()
    assert [c.id for c in cards] == ["CARD1"] and entries == [entry]
    assert entries[0].tiers[1].flat_fee is not None and str(entries[0].tiers[1].flat_fee) == "1.000"


def test_a_write_on_a_stale_version_is_a_conflict_and_changes_nothing(tenant: str) -> None:
    # GIVEN a resource read by two requests
    CatalogRepository(tenant).insert(resource())
    mine, theirs = CatalogRepository(tenant), CatalogRepository(tenant)
    read_by_me, read_by_them = mine.get(UsageResource, "TEXTS"), theirs.get(UsageResource, "TEXTS")
    assert read_by_me is not None and read_by_them is not None
    # WHEN they replace it first
    theirs.replace(read_by_them, resource(name="Theirs"))
    # THEN my replace, my delete and my transaction on the version I read are CONFLICTs
    with pytest.raises(DomainError) as replaced:
        mine.replace(read_by_me, resource(name="Mine"))
    assert (replaced.value.code, replaced.value.message) == (
        ErrorCode.CONFLICT, "UsageResource 'TEXTS' was changed meanwhile; read it again")
    with pytest.raises(DomainError) as deleted:
        mine.delete(read_by_me)
    assert (deleted.value.code, deleted.value.message) == (
        ErrorCode.CONFLICT, "UsageResource 'TEXTS' was changed meanwhile")
    with pytest.raises(DomainError) as transacted:
        mine.transact(inserts=[resource("DATA", "Data")], replaces=[(read_by_me, resource(name="Mine"))])
    assert transacted.value.code == ErrorCode.CONFLICT
    # AND their write stands, at version 2, and the transaction's insert was not written
    item = stored(tenant, "RES#TEXTS")
    assert item is not None and item["version"] == {"N": "2"} and item["data"]["M"]["name"] == {"S": "Theirs"}
    assert stored(tenant, "RES#DATA") is None
    # AND once read again, the write goes through on the new version
    again = CatalogRepository(tenant)
    current = again.get(UsageResource, "TEXTS")
    assert current is not None
    again.delete(current)
    assert stored(tenant, "RES#TEXTS") is None


def test_inserting_a_taken_code_is_duplicate_code_alone_or_in_a_transaction(tenant: str) -> None:
    repo = CatalogRepository(tenant)
    repo.insert(resource())
    repo.insert(UnitOfMeasure("EACH", "Each", "COUNT", Decimal(1)))
    # WHEN a code is inserted again THEN DUPLICATE_CODE names it (and the field of a unit's code)
    with pytest.raises(DomainError) as again:
        CatalogRepository(tenant).insert(resource(name="Other"))
    assert (again.value.code, again.value.field) == (ErrorCode.DUPLICATE_CODE, "code")
    with pytest.raises(DomainError) as unit:
        CatalogRepository(tenant).insert(UnitOfMeasure("EACH", "Each", "COUNT", Decimal(1)))
    assert (unit.value.code, unit.value.field) == (ErrorCode.DUPLICATE_CODE, "unitCode")
    # WHEN a transaction inserts a new record beside a taken one THEN DUPLICATE_CODE names the taken one, and the
    # new record is not written either
    with pytest.raises(DomainError) as clash:
        CatalogRepository(tenant).transact(inserts=[resource("DATA", "Data"), resource(name="Other")])
    assert (clash.value.code, clash.value.message) == (ErrorCode.DUPLICATE_CODE,
                                                       "UsageResource 'TEXTS' already exists")
    assert stored(tenant, "RES#DATA") is None
    texts = stored(tenant, "RES#TEXTS")
    assert texts is not None and texts["version"] == {"N": "1"} and texts["data"]["M"]["name"] == {"S": "Texts"}


def test_a_second_journal_for_a_product_is_refused_until_the_first_is_gone(tenant: str) -> None:
    # GIVEN a setup journal open for product P
    writer = ChainWriter(CatalogRepository(tenant))
    sk = keys.setup_journal_sk("P")
    journal = writer._open_journal(sk, "SetupJournal", "P", {"state": "WRITING", "records": []})
    item = stored(tenant, sk)
    assert item is not None and item["version"] == {"N": "1"} and item["kind"] == {"S": "SetupJournal"}
    # WHEN another is opened THEN it is a CONFLICT on productCode
    with pytest.raises(DomainError) as refused:
        writer._open_journal(sk, "SetupJournal", "P", {"state": "WRITING", "records": []})
    assert (refused.value.code, refused.value.field) == (ErrorCode.CONFLICT, "productCode")
    # WHEN it is rolled back THEN its state was set on the version read, and it is gone
    assert writer.roll_back_setup("P", journal.data["id"]) is True
    assert stored(tenant, sk) is None and writer.journal(sk) is None


def test_rolling_back_deletes_only_records_still_draft(tenant: str) -> None:
    # GIVEN a journal listing two resources, one of which somebody activated meanwhile
    repo = CatalogRepository(tenant)
    repo.transact(inserts=[resource("A", "A"), resource("B", "B")])
    b = repo.get(UsageResource, "B")
    assert b is not None
    repo.replace(b, UsageResource("B", "B", ResourceCategory.USAGE, "COUNT", "EA", status=RecordStatus.ACTIVE))
    writer = ChainWriter(repo)
    writer._open_journal(keys.setup_journal_sk("P"), "SetupJournal", "P",
                         {"state": "WRITING", "records": ["UsageResource|A", "UsageResource|B", "UsageResource|C"]})
    # WHEN rolled back THEN the DRAFT one is deleted, the ACTIVE one kept, the never-written one skipped
    assert writer.roll_back_setup("P") is True
    assert stored(tenant, "RES#A") is None and stored(tenant, "RES#B") is not None
    assert writer.journal(keys.setup_journal_sk("P")) is None
