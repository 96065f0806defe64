"""How a batch's outcomes become transactions, pure (``infra.rating_repo`` writes them).

- ``latest_new``: the NEW records of a batch, each once (its latest attempt).
- ``groups``: outcomes that share a wallet, a summary or a record (a correction and its original) belong
  together and are written in order, as one chain of transactions.
- ``chunk_bounds``: a group split into consecutive runs whose transaction holds at most ``limit`` items
  (``item_count`` says how many items a run writes).
- ``pack``: runs of different groups gathered into transactions of at most ``limit`` items.
- ``merge_by_credit``: a wallet's bucket changes merged per bucket, one counter write each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TypeVar

from core.processing.outcome import Outcome
from core.usage import UsageRecord, UsageStatus
from core.wallets import BucketChange

SummaryRef = tuple[str, str]  # (account external id, summary id)
T = TypeVar("T")


def latest_new(records: Iterable[UsageRecord]) -> list[UsageRecord]:
    """The NEW records of a batch, each once (its latest attempt), in first-seen order."""
    latest: dict[str, UsageRecord] = {}
    for record in records:
        if record.status != UsageStatus.NEW:
            continue
        if record.id not in latest or record.attempt >= latest[record.id].attempt:
            latest[record.id] = record
    return list(latest.values())


def groups(outcomes: Sequence[Outcome]) -> list[list[Outcome]]:
    """Outcomes that share a wallet, a summary or a record (a correction and its original) belong together;
    each group keeps the batch's order."""
    parent = list(range(len(outcomes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, str], int] = {}
    for i, o in enumerate(outcomes):
        links = [("wallet", w) for w in wallet_ids(o)]
        links += [("summary", f"{o.account_external_id}\x00{c.summary_id}") for c in o.contributions]
        links += [("record", o.record_id)] + ([("record", o.reverses)] if o.reverses else [])
        for link in links:
            if link in owner:
                parent[find(i)] = find(owner[link])
            else:
                owner[link] = i
    by_root: dict[int, list[Outcome]] = {}
    for i, o in enumerate(outcomes):
        by_root.setdefault(find(i), []).append(o)
    return list(by_root.values())


def pack(chunks: Sequence[T], size: Callable[[T], int], limit: int) -> list[list[T]]:
    """Chunks (of different groups) gathered, in order, into transactions of at most ``limit`` items each
    (``size``: a chunk's items; a chunk is never split)."""
    transactions: list[list[T]] = []
    used = limit
    for chunk in chunks:
        if used + size(chunk) > limit:
            transactions.append([])
            used = 0
        transactions[-1].append(chunk)
        used += size(chunk)
    return transactions


def chunk_bounds(group: Sequence[Outcome], limit: int) -> list[tuple[int, int]]:
    """Split a group into consecutive runs whose transaction holds at most ``limit`` items."""
    bounds: list[tuple[int, int]] = []
    start = 0
    while start < len(group):
        end = start + 1
        while end < len(group) and item_count(group[start:end + 1]) <= limit:
            end += 1
        if item_count(group[start:end]) > limit:
            raise ValueError(f"record {group[start].record_id} alone needs more than {limit} items")
        bounds.append((start, end))
        start = end
    return bounds


def item_count(chunk: Sequence[Outcome]) -> int:
    """The transaction items a run of outcomes writes: each record (and each original it corrects outside the
    run), one counter per wallet credit, one ledger entry per wallet, usage time and kind, one put per summary."""
    in_chunk = {o.record_id for o in chunk}
    records = len(chunk) + sum(1 for o in chunk if o.reverses and o.reverses not in in_chunk)
    credits = {(c.wallet_id, ch.credit_id) for o in chunk for c in o.wallet_changes for ch in c.changes}
    ledgers = {(c.wallet_id, c.at, ch.quantity > 0) for o in chunk for c in o.wallet_changes for ch in c.changes}
    summaries = {(o.account_external_id, c.summary_id) for o in chunk for c in o.contributions}
    return records + len(credits) + len(ledgers) + len(summaries)


def merge_by_credit(changes: Sequence[BucketChange]) -> dict[str, list[BucketChange]]:
    """Changes of one wallet merged per bucket (one counter write each), grouped per credit in order.

    A credit's first change carries the total its counter holds before the chunk (what its write is conditioned
    on); a bucket's merged change runs from its first opening to its last closing.
    """
    merged: dict[str, dict[str, BucketChange]] = {}
    for change in changes:
        buckets = merged.setdefault(change.credit_id, {})
        seen = next(iter(buckets.values())).seen_total if buckets else change.seen_total
        previous = buckets.get(change.bucket_id)
        if previous is None:
            buckets[change.bucket_id] = replace(change, seen_total=seen)
        else:
            buckets[change.bucket_id] = replace(previous, quantity=previous.quantity + change.quantity,
                                                closing=change.closing)
    return {credit: list(buckets.values()) for credit, buckets in merged.items()}


def wallet_ids(outcome: Outcome) -> list[str]:
    """The wallets an outcome changes, once each, in order."""
    return list(dict.fromkeys(c.wallet_id for c in outcome.wallet_changes))


def group_refs(group: Sequence[Outcome]) -> list[SummaryRef]:
    """The summaries a group books into, once each, in order."""
    return list(dict.fromkeys((o.account_external_id, c.summary_id) for o in group for c in o.contributions))
