"""Properties of how a batch's outcomes become transactions (``core.processing.packing``): groups partition the
batch and share nothing, whatever its order; runs and packed transactions never exceed the item limit and never
split a group's run; merging a wallet's changes per bucket over two halves equals merging the whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.processing import Outcome, WalletDebits
from core.processing.packing import (
    chunk_bounds,
    group_refs,
    groups,
    item_count,
    latest_new,
    merge_by_credit,
    pack,
    wallet_ids,
)
from core.summaries import Contribution
from core.usage import UsageRecord, UsageStatus
from core.wallets import BucketChange

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WALLETS = [f"w{i}" for i in range(4)]
CREDITS = [f"c{i}" for i in range(3)]
BUCKETS = [f"b{i}" for i in range(3)]
SUMMARIES = [f"s{i}" for i in range(3)]
ACCOUNTS = ["acme", "globex"]

changes = st.builds(
    BucketChange, credit_id=st.sampled_from(CREDITS), bucket_id=st.sampled_from(BUCKETS),
    quantity=st.integers(-50, 50).map(Decimal), opening=st.integers(0, 100).map(Decimal),
    closing=st.integers(0, 100).map(Decimal), credit_granted=st.just(Decimal(100)),
    seen_total=st.integers(0, 100).map(Decimal))
debits = st.builds(WalletDebits, wallet_id=st.sampled_from(WALLETS),
                   at=st.integers(0, 2).map(lambda m: T0 + timedelta(minutes=m)),
                   changes=st.lists(changes, min_size=1, max_size=3).map(tuple))


@st.composite
def batches(draw: st.DrawFn, max_size: int = 12) -> list[Outcome]:
    """Outcomes of distinct records, some sharing wallets or summaries, some correcting another record."""
    n = draw(st.integers(0, max_size))
    ids = [f"r{i}" for i in range(n)]
    out = []
    for record_id in ids:
        reverses = draw(st.none() | st.sampled_from([*ids, "elsewhere"]).filter(lambda r, me=record_id: r != me))
        out.append(Outcome(
            record_id, draw(st.sampled_from(ACCOUNTS)), 1, UsageStatus.PROCESSED, T0,
            own_debits=tuple(draw(st.lists(debits, max_size=2))),
            contributions=tuple(Contribution(s) for s in draw(st.lists(st.sampled_from(SUMMARIES), max_size=2,
                                                                       unique=True))),
            reverses=reverses))
    return out


def links(outcome: Outcome) -> set[tuple[str, str]]:
    found = {("wallet", w) for w in wallet_ids(outcome)}
    found |= {("summary", f"{a}/{s}") for a, s in group_refs([outcome])}
    return found | {("record", outcome.record_id)} | ({("record", outcome.reverses)} if outcome.reverses else set())


def partition(gs: list[list[Outcome]]) -> set[frozenset[str]]:
    return {frozenset(o.record_id for o in g) for g in gs}


@settings(max_examples=60, deadline=None)
@given(batches())
def test_groups_partition_the_batch_in_order_and_share_nothing(batch: list[Outcome]) -> None:
    # GIVEN a batch WHEN it is grouped
    gs = groups(batch)
    # THEN every outcome is in exactly one group, each group keeps the batch's order
    assert sorted(o.record_id for g in gs for o in g) == sorted(o.record_id for o in batch)
    position = {o.record_id: i for i, o in enumerate(batch)}
    assert all([position[o.record_id] for o in g] == sorted(position[o.record_id] for o in g) for g in gs)
    # AND no wallet, summary or record is touched by two groups (they can be written independently)
    touched = [set().union(*(links(o) for o in g)) for g in gs]
    assert all(not (touched[i] & touched[j]) for i in range(len(gs)) for j in range(i + 1, len(gs)))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_grouping_does_not_depend_on_the_batch_order(data: st.DataObject) -> None:
    # GIVEN a batch and the same batch shuffled
    batch = data.draw(batches())
    shuffled = data.draw(st.permutations(batch))
    # WHEN both are grouped THEN the same records belong together
    assert partition(groups(batch)) == partition(groups(shuffled))


@settings(max_examples=60, deadline=None)
@given(batches(), st.integers(8, 40))
def test_runs_of_a_group_stay_within_the_item_limit_and_cover_it_in_order(batch: list[Outcome], limit: int) -> None:
    for group in groups(batch):
        if any(item_count([o]) > limit for o in group):
            # GIVEN a record that alone needs more items than a transaction holds THEN it is refused, not split
            with pytest.raises(ValueError, match="alone needs more than"):
                chunk_bounds(group, limit)
            continue
        # WHEN a group is split into runs
        bounds = chunk_bounds(group, limit)
        # THEN the runs are consecutive, cover the group, and each fits in one transaction
        assert [s for s, _ in bounds] == [0, *[e for _, e in bounds[:-1]]] and bounds[-1][1] == len(group)
        assert all(item_count(group[s:e]) <= limit for s, e in bounds)


@settings(max_examples=60, deadline=None)
@given(batches(), st.integers(0, 12))
def test_item_count_of_a_run_is_at_most_the_sum_of_its_halves(batch: list[Outcome], cut: int) -> None:
    # (what makes writing a group in several runs never need more items than writing it at once)
    assert item_count(batch) <= item_count(batch[:cut]) + item_count(batch[cut:])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 30), max_size=30), st.integers(30, 100))
def test_packing_never_exceeds_the_limit_never_splits_a_chunk_and_keeps_the_order(sizes: list[int],
                                                                                  limit: int) -> None:
    # GIVEN chunks (of different groups) of at most ``limit`` items each
    chunks = [(i, size) for i, size in enumerate(sizes)]
    # WHEN they are packed into transactions
    transactions = pack(chunks, lambda chunk: chunk[1], limit)
    # THEN every chunk is in one transaction, whole and in order, and no transaction holds more than the limit
    assert [c for t in transactions for c in t] == chunks
    assert all(t and sum(size for _, size in t) <= limit for t in transactions)
    # AND a new transaction is started only when the next chunk would not fit in the current one
    assert all(sum(size for _, size in a) + b[0][1] > limit for a, b in pairwise(transactions))


@settings(max_examples=100, deadline=None)
@given(st.lists(changes, max_size=12), st.integers(0, 12))
def test_merging_two_halves_equals_merging_the_whole(all_changes: list[BucketChange], cut: int) -> None:
    # GIVEN a wallet's changes in order, split in two halves
    first, second = all_changes[:cut], all_changes[cut:]
    # WHEN each half is merged and the merged halves are merged
    halves = [c for merged in (merge_by_credit(first), merge_by_credit(second)) for cs in merged.values() for c in cs]
    # THEN it is the merge of the whole: one change per bucket, quantities summed, first opening, last closing
    assert merge_by_credit(halves) == merge_by_credit(all_changes)
    whole = merge_by_credit(all_changes)
    for credit, merged in whole.items():
        assert len({c.bucket_id for c in merged}) == len(merged)
        for change in merged:
            mine = [c for c in all_changes if (c.credit_id, c.bucket_id) == (credit, change.bucket_id)]
            assert change.quantity == sum(c.quantity for c in mine)
            assert (change.opening, change.closing) == (mine[0].opening, mine[-1].closing)
            # every bucket of a credit is conditioned on the total the credit held before the first change
            assert change.seen_total == next(c for c in all_changes if c.credit_id == credit).seen_total


def record(record_id: str, attempt: int = 0, status: UsageStatus = UsageStatus.NEW) -> UsageRecord:
    return UsageRecord(record_id, "t", f"key-{record_id}", "acme", "TEXTS", T0, T0, T0, Decimal(1),
                       status=status, attempt=attempt)


def test_latest_new_keeps_each_new_record_once_at_its_latest_attempt() -> None:
    # GIVEN a batch with a redelivered record (two attempts), another NEW one and one processed already
    batch = [record("a", 2), record("b"), record("a", 1), record("c", status=UsageStatus.PROCESSED)]
    # WHEN its NEW records are taken THEN each comes once, at its latest attempt, in first-seen order
    assert [(r.id, r.attempt) for r in latest_new(batch)] == [("a", 2), ("b", 0)]
