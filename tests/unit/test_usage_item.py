"""The usage table's item layout (infra/usage_repo.py): compact, and every record reads back exactly as written."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from core.usage import CorrectionKind, SummaryBooking, UsageRecord, UsageStatus
from infra import keys
from infra.codec import encode, to_iso
from infra.usage_repo import RATED_BODY, TOP_LEVEL, record_from_item, record_from_plain, to_item

AT = datetime(2026, 7, 14, 9, 30, tzinfo=UTC)


def new_record(**changes: Any) -> UsageRecord:
    record = UsageRecord(id="97050e0db9ce44debafc360270951725", tenant="demo", idempotency_key="texts-a",
                         account_external_id="acme", resource_code="TEXTS", start_time=AT, end_time=AT,
                         received_at=AT, quantity=Decimal("3000"), unit_code="EA")
    return dataclasses.replace(record, **changes)


def rated_record() -> UsageRecord:
    """Every field set (a correction that rating processed)."""
    return new_record(
        subscription_external_id="sub-1", prerated_amount=Decimal("1.25"), prerated_quantity=Decimal("0.5"),
        matching_attribute="m1", dimensions={"region": "eu", "cores": 4, "ratio": "0.25", "gpu": True},
        status=UsageStatus.PROCESSED, error_code="E", error_message="why", attempt=3,
        correction_of="0" * 32, correction_kind=CorrectionKind.AMEND, voided=True, voided_by="1" * 32,
        reason="meter reset", source="s3://bucket/file.csv#L7", quantity_in_default_unit=Decimal("3000.000001"),
        debited_quantity=Decimal("2000"), overage_quantity=Decimal("1000.000001"), rated_amount=Decimal("12.34"),
        currency="USD", summary_id="S1", wallet_id="W1", processed_at=AT,
        debits=(("B1", Decimal("1500")), ("B2", Decimal("500"))),
        bookings=(SummaryBooking("S1", Decimal("3000"), Decimal("2000"), Decimal("1000"), Decimal("12.34"), 1,
                                 committed_amount=Decimal("2")),),
        corrected_by="2" * 32, commitment_wallet_id="W9", commitment_debits=(("B9", Decimal("2")),))


def legacy_item(record: UsageRecord) -> dict[str, Any]:
    """One attribute per set field (the layout before the compact one): the yardstick of the item-size test."""
    from infra.dynamo_kit import to_attribute as _av

    item = {"pk": {"S": keys.usage_pk(record.tenant, record.id)}, "sk": {"S": keys.USAGE_SK},
            "kind": {"S": "UsageRecord"},
            "gsi1pk": {"S": keys.usage_account_pk(record.tenant, record.account_external_id)},
            "gsi1sk": {"S": keys.usage_account_sk(to_iso(record.start_time), record.id)}}
    for f in dataclasses.fields(UsageRecord):
        value = getattr(record, f.name)
        if value is not None and value != ():
            item[f.name] = _av(encode(value))
    return item


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: names plus values (numbers about half their digits; 3 bytes a map or list)."""
    def size(av: dict[str, Any]) -> int:
        (kind, value), = av.items()
        if kind == "S":
            return len(value.encode())
        if kind == "N":
            return (len(value.strip("-").replace(".", "")) + 1) // 2 + 1
        if kind in ("M", "L"):
            pairs = value.items() if kind == "M" else (("", v) for v in value)
            return 3 + sum(len(name) + 1 + size(v) for name, v in pairs)
        return 1
    return sum(len(name) + size(value) for name, value in item.items())


def test_every_field_reads_back_exactly_from_the_item_and_from_a_deserialized_image() -> None:
    for record in (new_record(), rated_record()):
        item = to_item(record)
        assert record_from_item(item) == record
        # what Powertools hands a handler: the image deserialized, numbers as Decimal
        plain = {name: TypeDeserializer().deserialize(value) for name, value in item.items()}
        assert record_from_plain(plain) == record


def test_a_new_record_is_a_few_attributes_and_one_compact_body() -> None:
    item = to_item(new_record())
    assert set(item) == {"pk", "sk", "kind", "gsi1pk", "gsi1sk", "tenant", "resource_code", "status", "attempt",
                         "body"}
    assert item["status"] == {"S": "NEW"} and item["attempt"] == {"N": "0"}
    assert json.loads(item["body"]["S"]) == {
        "id": "97050e0db9ce44debafc360270951725", "idempotency_key": "texts-a", "account_external_id": "acme",
        "start_time": "2026-07-14T09:30:00.000000Z", "end_time": "2026-07-14T09:30:00.000000Z",
        "received_at": "2026-07-14T09:30:00.000000Z", "quantity": "3000", "unit_code": "EA"}
    assert " " not in item["body"]["S"]


def test_what_filters_and_conditions_read_stands_alone_and_rating_owns_one_packed_attribute() -> None:
    record = rated_record()
    item = to_item(record)
    assert set(item) == {"pk", "sk", "kind", "gsi1pk", "gsi1sk", "body", "rated", *TOP_LEVEL}
    assert item["voided"] == {"BOOL": True} and item["correction_of"] == {"S": "0" * 32}
    rated = json.loads(item["rated"]["S"])
    assert set(rated) == set(RATED_BODY)
    assert rated["rated_amount"] == "12.34" and rated["debits"] == [["B1", "1500"], ["B2", "500"]]
    assert not set(rated) & set(json.loads(item["body"]["S"]))
    # a booking leaves out what is at its default, and the id of the record's own summary (read back from it)
    assert rated["summary_id"] == "S1"
    assert rated["bookings"] == [{"consumed": "3000", "debited": "2000", "overage": "1000",
                                  "amount": "12.34", "count": 1, "committed_amount": "2"}]
    assert record_from_item(item) == record
    # about the size of one attribute per field (what DynamoDB bills by), with less than half the attributes
    legacy = legacy_item(record)
    assert item_size(item) < 1.15 * item_size(legacy) and len(item) < len(legacy) / 2


def test_a_booking_into_another_summary_keeps_its_id() -> None:
    record = rated_record()
    other = dataclasses.replace(record.bookings[0], summary_id="S2")
    record = dataclasses.replace(record, bookings=(record.bookings[0], other))
    item = to_item(record)
    assert [b.get("summary_id") for b in json.loads(item["rated"]["S"])["bookings"]] == [None, "S2"]
    assert record_from_item(item) == record




def test_an_items_times_are_written_as_the_codec_writes_them() -> None:
    from datetime import timedelta, timezone

    # to_iso's one-isoformat path for UTC times (every time a record holds) writes what the general conversion does
    for at in (datetime(1, 1, 1, tzinfo=UTC), datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), AT,
               datetime(2026, 7, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))), datetime.now(UTC)):
        assert to_iso(at) == at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
        assert to_iso(at) == to_iso(at.astimezone(timezone(timedelta(hours=5))))  # the same instant elsewhere
    assert to_iso(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00.000000Z"
