"""Usage items on the store: rating's update replaces what it owns and nothing else (infra/usage_repo.py)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from core.usage import SummaryBooking, UsageStatus
from infra.dynamo import dynamodb_client
from infra.usage_repo import UsageRepository
from tests.unit.test_usage_item import AT, new_record


def test_rating_sets_and_clears_only_its_own_attributes(tenant: str) -> None:
    repo = UsageRepository(tenant)
    record = dataclasses.replace(new_record(tenant=tenant), dimensions={"region": "eu"})
    assert repo.insert_new([record]) == {}
    # WHEN rating stores its outcome
    rated = dataclasses.replace(
        record, status=UsageStatus.PROCESSED, quantity_in_default_unit=Decimal(3000), debited_quantity=Decimal(3000),
        overage_quantity=Decimal(0), rated_amount=Decimal(0), currency="USD", summary_id="S1", wallet_id="W1",
        processed_at=AT, debits=(("B1", Decimal(3000)),),
        bookings=(SummaryBooking("S1", Decimal(3000), Decimal(3000), Decimal(0), Decimal(0), 1),))
    repo.client.transact_write_items(TransactItems=[repo.rated_update(rated, attempt=0)])
    # THEN the record reads back as rated; ingestion's fields are untouched
    assert repo.get(record.id) == rated
    # AND a replayed update (the record is no longer NEW) is refused, changing nothing
    again = dataclasses.replace(rated, rated_amount=Decimal(99))
    cancelled = False
    try:
        repo.client.transact_write_items(TransactItems=[repo.rated_update(again, attempt=0)])
    except repo.client.exceptions.TransactionCanceledException:
        cancelled = True
    assert cancelled and repo.get(record.id) == rated
    # WHEN it is sent back to NEW and rating fails it this time
    [requeued] = repo.requeue([rated]).values()
    assert requeued is not None and requeued.status is UsageStatus.NEW and requeued.attempt == 1
    failed = dataclasses.replace(new_record(tenant=tenant), dimensions={"region": "eu"}, attempt=1,
                                 status=UsageStatus.ERROR, error_code="NO_SUBSCRIPTION", error_message="none")
    repo.client.transact_write_items(TransactItems=[repo.rated_update(failed, attempt=1)])
    # THEN what it rated before is gone with it
    assert repo.get(record.id) == failed
    item = dynamodb_client().get_item(TableName=repo.table, Key=repo.key(record.id))["Item"]
    assert "rated" not in item and item["error_code"] == {"S": "NO_SUBSCRIPTION"}


def test_an_insert_is_one_conditional_put_and_a_retried_put_of_ours_stays_accepted(tenant: str) -> None:
    repo = UsageRepository(tenant)
    record = new_record(tenant=tenant)
    assert repo.insert_new([record]) == {}
    # WHEN the very same item is put again (botocore retrying a Put whose reply was lost)
    # THEN it is recognised as ours: still accepted, nothing overwritten
    assert repo.insert_new([record]) == {}
    # WHEN another call sends the same idempotency key later
    later = dataclasses.replace(record, received_at=record.received_at.replace(year=record.received_at.year + 1))
    # THEN the stored original is answered, unchanged
    assert repo.insert_new([later]) == {record.id: record}
    assert repo.get(record.id) == record


def test_the_account_index_holds_keys_and_resource_only_and_listing_reads_the_records(tenant: str) -> None:
    repo = UsageRepository(tenant)
    records = [dataclasses.replace(new_record(tenant=tenant), id=f"r{i}", idempotency_key=f"k{i}",
                                   resource_code="TEXTS" if i % 2 else "DATA") for i in range(5)]
    assert repo.insert_new(records) == {}
    rated = dataclasses.replace(records[1], status=UsageStatus.PROCESSED, processed_at=AT)
    repo.client.transact_write_items(TransactItems=[repo.rated_update(rated, attempt=0)])
    index = dynamodb_client().query(TableName=repo.table, IndexName="gsi1", KeyConditionExpression="gsi1pk = :pk",
                                    ExpressionAttributeValues={":pk": {"S": f"T#{tenant}#UA#acme"}})["Items"]
    assert index and all(set(item) <= {"pk", "sk", "gsi1pk", "gsi1sk", "resource_code"} for item in index)
    # THEN listing still filters on status (read from the records) and resource (on the index)
    assert [r for _, r in repo.account_page("acme", 10, status=UsageStatus.PROCESSED)[0]] == [rated]
    texts = [r.id for _, r in repo.account_page("acme", 10, resource_code="TEXTS")[0]]
    assert sorted(texts) == ["r1", "r3"]
    page, more = repo.account_page("acme", 2)
    assert len(page) == 2 and more
