"""Ingestion's algorithm (core.ingestion) over an in-memory store: outcomes, dedup within and across calls,
corrections and re-processing rules. Storage behaviour itself is tested against DynamoDB in tests/integration."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from core.errors import Conflict, DomainError, ErrorCode
from core.ingestion import MAX_RECORDS, Ingestion
from core.usage import CorrectionKind, IngestOutcome, UsageRecord, UsageStatus, usage_record_id
from core.usage_validation import CatalogView, UsageInput
from tests.unit.test_usage_validation import CATALOG, NOW, usage

TENANT = "acme-tenant"


class MemoryStore:
    """A UsageStore in a dict, with the same contract as the DynamoDB one."""

    def __init__(self) -> None:
        self.items: dict[str, UsageRecord] = {}
        self.insert_calls: list[int] = []

    def insert_new(self, records: Sequence[UsageRecord]) -> dict[str, UsageRecord]:
        self.insert_calls.append(len(records))
        existing = {r.id: self.items[r.id] for r in records if r.id in self.items}
        for r in records:
            self.items.setdefault(r.id, r)
        return existing

    def get(self, record_id: str) -> UsageRecord | None:
        return self.items.get(record_id)

    def get_many(self, record_ids: Iterable[str]) -> dict[str, UsageRecord]:
        return {i: self.items[i] for i in record_ids if i in self.items}

    def write_correction(self, original: UsageRecord, correction: UsageRecord) -> UsageRecord:
        current = self.items.get(original.id)
        if current is None or current.voided_by is not None or correction.id in self.items:
            raise Conflict("corrected already")
        self.items[correction.id] = correction
        self.items[original.id] = dataclasses.replace(current, voided=True, voided_by=correction.id)
        return self.items[original.id]

    def requeue(self, records: Sequence[UsageRecord]) -> dict[str, UsageRecord | None]:
        out: dict[str, UsageRecord | None] = {}
        for r in records:
            current = self.items[r.id]
            if (current.status, current.attempt, current.voided_by) != (r.status, r.attempt, None):
                out[r.id] = None
                continue
            self.items[r.id] = out[r.id] = dataclasses.replace(r, status=UsageStatus.NEW, attempt=r.attempt + 1,
                                                                 error_code=None, error_message=None)
        return out


class FixedCatalog:
    def view(self, resource_codes: set[str], fresh: bool = False) -> CatalogView:
        return CATALOG


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def ingestion(store: MemoryStore) -> Ingestion:
    return Ingestion(TENANT, store, FixedCatalog(), clock=lambda: NOW)


def outcomes(results: Sequence[Any]) -> list[str]:
    return [r.outcome.value for r in results]


def test_each_record_gets_its_own_answer_in_one_write(ingestion: Ingestion, store: MemoryStore) -> None:
    # GIVEN a good record, a bad one and another good one
    results = ingestion.record([usage(idempotency_key="a"), usage(idempotency_key="b", quantity="-1"),
                                usage(idempotency_key="c")])
    # THEN the bad one is REJECTED with its error, the others ACCEPTED, written in one store call
    assert outcomes(results) == ["ACCEPTED", "REJECTED", "ACCEPTED"]
    assert [e.code for e in results[1].errors] == [ErrorCode.NEGATIVE_QUANTITY]
    assert [r.index for r in results] == [0, 1, 2] and results[1].idempotency_key == "b"
    assert store.insert_calls == [2] and set(store.items) == {usage_record_id(TENANT, "a"),
                                                             usage_record_id(TENANT, "c")}


def test_a_repeat_is_a_duplicate_answered_with_the_original(ingestion: Ingestion, store: MemoryStore) -> None:
    ingestion.record([usage(idempotency_key="a", quantity="1")])
    # WHEN the key comes again with other values
    [again] = ingestion.record([usage(idempotency_key="a", quantity="99")])
    # THEN it is a DUPLICATE carrying the stored original, which is unchanged
    assert again.outcome == IngestOutcome.DUPLICATE and again.record is not None
    assert str(again.record.quantity) == "1"
    assert str(store.items[usage_record_id(TENANT, "a")].quantity) == "1"


def test_a_key_twice_in_one_call_is_written_once(ingestion: Ingestion, store: MemoryStore) -> None:
    results = ingestion.record([usage(idempotency_key="a", quantity="1"), usage(idempotency_key="a", quantity="2")])
    assert outcomes(results) == ["ACCEPTED", "DUPLICATE"]
    assert results[1].record == results[0].record
    assert store.insert_calls == [1]


def test_a_rejected_record_does_not_claim_its_key(ingestion: Ingestion) -> None:
    # GIVEN the first occurrence of a key is invalid and the second valid
    results = ingestion.record([usage(idempotency_key="a", quantity="x"), usage(idempotency_key="a")])
    # THEN the valid one is accepted
    assert outcomes(results) == ["REJECTED", "ACCEPTED"]


def test_more_than_1000_records_refuse_the_whole_call(ingestion: Ingestion, store: MemoryStore) -> None:
    with pytest.raises(DomainError) as refused:
        ingestion.record([usage(idempotency_key=str(i)) for i in range(MAX_RECORDS + 1)])
    assert (refused.value.code, refused.value.field) == (ErrorCode.MAX_LIMIT_EXCEEDED, "records")
    assert store.items == {}
    with pytest.raises(DomainError) as empty:
        ingestion.record([])
    assert empty.value.code == ErrorCode.INVALID_VALUE


def test_exactly_1000_records_are_fine(ingestion: Ingestion) -> None:
    results = ingestion.record([usage(idempotency_key=str(i)) for i in range(MAX_RECORDS)])
    assert outcomes(results) == ["ACCEPTED"] * MAX_RECORDS


def test_a_void_corrects_once_and_repeats_answer_the_same_void(ingestion: Ingestion, store: MemoryStore) -> None:
    [accepted] = ingestion.record([usage(idempotency_key="a", dimensions={"region": "eu"})])
    assert accepted.record is not None
    original_id = accepted.record.id
    # WHEN it is voided twice
    first = ingestion.void(original_id, "sent by mistake")
    second = ingestion.void(original_id)
    # THEN one VOID record exists, with the original's routing fields and service dates but no quantity
    void = first.correction
    assert second.correction == void and second.original.voided_by == void.id
    assert (void.correction_of, void.correction_kind, void.reason) == (original_id, CorrectionKind.VOID,
                                                                        "sent by mistake")
    assert (void.account_external_id, void.resource_code, void.unit_code, void.start_time, void.end_time) == (
        "acme", "DATA", "GB", accepted.record.start_time, accepted.record.end_time)
    assert void.quantity is None and void.dimensions == {"region": "eu"} and void.status == UsageStatus.NEW
    assert store.items[original_id].voided and store.items[original_id].voided_by == void.id
    # AND the voided record cannot be amended, and a VOID cannot be corrected
    with pytest.raises(DomainError) as amended:
        ingestion.amend(original_id, {"quantity": "3"})
    assert amended.value.code == ErrorCode.STATUS_FORBIDS
    with pytest.raises(DomainError) as void_of_void:
        ingestion.void(void.id)
    assert void_of_void.value.code == ErrorCode.STATUS_FORBIDS


def test_an_amend_is_one_record_with_the_new_values(ingestion: Ingestion, store: MemoryStore) -> None:
    [accepted] = ingestion.record([usage(idempotency_key="a", quantity="4500", resource_code="TEXTS")])
    assert accepted.record is not None
    # WHEN its quantity is amended
    result = ingestion.amend(accepted.record.id, {"quantity": "4100"}, "meter fix")
    # THEN the AMEND record keeps everything else, service dates included, and points at the original
    amend = result.correction
    assert (amend.correction_kind, amend.correction_of, str(amend.quantity)) == (CorrectionKind.AMEND,
                                                                                 accepted.record.id, "4100")
    assert (amend.start_time, amend.resource_code, amend.unit_code) == (accepted.record.start_time, "TEXTS", "EA")
    assert amend.idempotency_key == f"{accepted.record.id}/amend"
    assert result.original.voided_by == amend.id
    # AND the AMEND is the live version: it can be amended in turn, the original cannot
    again = ingestion.amend(amend.id, {"quantity": "4000"})
    assert again.correction.correction_of == amend.id
    with pytest.raises(DomainError) as refused:
        ingestion.amend(accepted.record.id, {"quantity": "1"})
    assert refused.value.code == ErrorCode.STATUS_FORBIDS


def test_an_amend_is_validated_like_new_usage(ingestion: Ingestion) -> None:
    [accepted] = ingestion.record([usage(idempotency_key="a")])
    assert accepted.record is not None
    record_id = accepted.record.id
    with pytest.raises(DomainError) as bad:
        ingestion.amend(record_id, {"quantity": "-5", "unit_code": "EA"})
    assert {(d.code, d.field) for d in bad.value.all_details()} == {(ErrorCode.NEGATIVE_QUANTITY, "quantity"),
                                                                    (ErrorCode.UNIT_NOT_IN_CLASS, "unitCode")}
    with pytest.raises(DomainError) as nothing:
        ingestion.amend(record_id, {"quantity": "1.5"})
    assert nothing.value.code == ErrorCode.INVALID_VALUE
    # a new resource takes its default unit unless one is given
    moved = ingestion.amend(record_id, {"resource_code": "TEXTS", "quantity": "3"})
    assert (moved.correction.resource_code, moved.correction.unit_code) == ("TEXTS", "EA")
    with pytest.raises(DomainError) as missing:
        ingestion.amend("nope", {"quantity": "1"})
    assert missing.value.code == ErrorCode.NOT_FOUND


def test_requeue_sends_errors_and_unrated_back_once(ingestion: Ingestion, store: MemoryStore) -> None:
    # GIVEN records in every status
    ids = {}
    for status in UsageStatus:
        [r] = ingestion.record([usage(idempotency_key=status.value)])
        assert r.record is not None
        store.items[r.record.id] = dataclasses.replace(r.record, status=status, error_code="X", error_message="m")
        ids[status] = r.record.id
    # WHEN all of them (and an unknown id) are sent back to NEW
    order = [ids[UsageStatus.ERROR], ids[UsageStatus.WARNING_UNRATED], ids[UsageStatus.NEW],
             ids[UsageStatus.PROCESSED], "unknown"]
    results = ingestion.requeue(order)
    # THEN ERROR and WARNING_UNRATED are NEW at attempt 1 without their error; the others are refused per id
    for result in results[:2]:
        assert result.record is not None and result.errors == ()
        assert (result.record.status, result.record.attempt, result.record.error_code) == (UsageStatus.NEW, 1, None)
    assert [(r.errors[0].code, r.errors[0].field) for r in results[2:]] == [
        (ErrorCode.STATUS_FORBIDS, "ids.2"), (ErrorCode.STATUS_FORBIDS, "ids.3"), (ErrorCode.NOT_FOUND, "ids.4")]
    # AND any target status but NEW refuses the call
    with pytest.raises(DomainError) as refused:
        ingestion.requeue(order, UsageStatus.PROCESSED)
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_VALUE, "status")


def test_a_new_record_never_rated_past_the_stale_age_can_be_sent_to_new_again(store: MemoryStore) -> None:
    # GIVEN ingestion whose stale age is 15 minutes, and a NEW record received at NOW (never rated: its stream
    # batch was given up on)
    from datetime import timedelta

    clock = [NOW]
    ingestion = Ingestion(TENANT, store, FixedCatalog(), clock=lambda: clock[0], stale_after=timedelta(minutes=15))
    [r] = ingestion.record([usage(idempotency_key="a")])
    assert r.record is not None
    # WHEN it is set to NEW within the stale age THEN it is refused (it is waiting to be rated), saying when it can
    [early] = ingestion.requeue([r.record.id])
    assert early.errors[0].code == ErrorCode.STATUS_FORBIDS and "900 s" in early.errors[0].message
    # WHEN it has waited longer THEN it is NEW again at the next attempt (a new stream event rates it, once)
    clock[0] = NOW + timedelta(minutes=16)
    [late] = ingestion.requeue([r.record.id])
    assert late.errors == () and late.record is not None
    assert (late.record.status, late.record.attempt) == (UsageStatus.NEW, 1)


def test_a_corrected_record_is_not_sent_back_to_new(ingestion: Ingestion, store: MemoryStore) -> None:
    [r] = ingestion.record([usage(idempotency_key="a")])
    assert r.record is not None
    store.items[r.record.id] = dataclasses.replace(r.record, status=UsageStatus.ERROR)
    ingestion.void(r.record.id)
    [result] = ingestion.requeue([r.record.id])
    assert result.errors[0].code == ErrorCode.STATUS_FORBIDS


def test_ingestion_uses_the_clock_and_tags_sources(store: MemoryStore) -> None:
    later = datetime(2026, 8, 1, tzinfo=UTC)
    ingestion = Ingestion(TENANT, store, FixedCatalog(), clock=lambda: later)
    [r] = ingestion.record([UsageInput(idempotency_key="a", account_external_id="x", resource_code="TEXTS",
                                       quantity="1", start_time="2026-07-31T00:00:00Z")], sources=["file#L2"])
    assert r.record is not None and r.record.received_at == later and r.record.source == "file#L2"


class WarmCatalog:
    """A source whose warm copy predates TEXTS; a fresh read sees it."""

    def __init__(self) -> None:
        self.asked: list[bool] = []

    def view(self, resource_codes: set[str], fresh: bool = False) -> CatalogView:
        self.asked.append(fresh)
        if fresh:
            return CATALOG
        return CatalogView({k: v for k, v in CATALOG.resources.items() if k != "TEXTS"}, CATALOG.units)


def test_a_rejection_the_catalog_decides_never_stands_on_a_warm_copy(store: MemoryStore) -> None:
    catalog = WarmCatalog()
    ingestion = Ingestion(TENANT, store, catalog, clock=lambda: NOW)
    # WHEN every record is fine on the warm copy, it is all that is read
    assert outcomes(ingestion.record([usage(idempotency_key="a")])) == ["ACCEPTED"]
    assert catalog.asked == [False]
    # WHEN the warm copy does not know a resource, the call is validated again on a fresh read
    catalog.asked.clear()
    results = ingestion.record([usage(idempotency_key="b", resource_code="TEXTS", unit_code="EA"),
                                usage(idempotency_key="c", quantity="-1")])
    assert outcomes(results) == ["ACCEPTED", "REJECTED"] and catalog.asked == [False, True]
    # AND a rejection the catalog does not decide costs no fresh read
    catalog.asked.clear()
    assert outcomes(ingestion.record([usage(idempotency_key="d", quantity="-1")])) == ["REJECTED"]
    assert catalog.asked == [False]
