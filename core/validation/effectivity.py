"""Effectivity rules: PURs, grants and rate card entries must line up in time (DOMAIN §1.2).

Ranges are half-open (``from <= t < to``; an open end never ends). Gaps of up to 12 hours are tolerated, so a
range ending at 23:59:59 followed by one starting at 00:00 of the next day is continuous.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from core.catalog import ProductUsageResource, RateCardEntry
from core.validation.findings import Finding, day, error, warning
from core.validation.snapshot import ProductSnapshot

TOLERATED_GAP = timedelta(hours=12)
R = TypeVar("R", ProductUsageResource, RateCardEntry)


def overlap(a_from: datetime, a_to: datetime | None, b_from: datetime, b_to: datetime | None) -> bool:
    return (b_to is None or a_from < b_to) and (a_to is None or b_from < a_to)


def hours(gap: timedelta) -> str:
    return f"{gap.total_seconds() / 3600:.1f} hours"


def gaps(records: Sequence[R]) -> Iterator[tuple[R, R, timedelta]]:
    """(covering record, next record, gap) for every stretch of more than 12 hours that no record covers.

    ``records`` are sorted by start; a record that ends later than its successor keeps covering past it."""
    cover: R | None = None
    for record in records:
        if cover is not None and cover.effective_to is not None:
            gap = record.effective_from - cover.effective_to
            if gap > TOLERATED_GAP:
                yield cover, record, gap
        if cover is None or cover.effective_to is not None and (record.effective_to is None
                                                               or record.effective_to > cover.effective_to):
            cover = record


def entries_in(s: ProductSnapshot, pur: ProductUsageResource) -> list[RateCardEntry]:
    """The PUR's entries that overlap it, by start."""
    return [e for e in s.entries_of(pur) if overlap(pur.effective_from, pur.effective_to, e.effective_from,
                                                     e.effective_to)]


def effectivity_mismatch(s: ProductSnapshot) -> Iterator[Finding]:
    """Error: a PUR has rate card entries, but none of them is effective at any time the PUR is."""
    for pur in s.purs:
        entries = s.entries_of(pur)
        if entries and not entries_in(s, pur):
            yield error("EFFECTIVITY_MISMATCH", "EFFECTIVITY_MISMATCH",
                        f"no rate card entry for {pur.resource_code} is effective between {day(pur.effective_from)} "
                        f"and {day(pur.effective_to)}; move the entries' dates or the PUR's", pur, *entries)


def grant_within_pur(s: ProductSnapshot) -> Iterator[Finding]:
    """Error: a grant's effective range is not inside its PUR's."""
    for pur in s.purs:
        for grant in s.grants_of(pur):
            starts_early = grant.effective_from < pur.effective_from
            ends_late = pur.effective_to is not None and (grant.effective_to is None
                                                          or grant.effective_to > pur.effective_to)
            if starts_early or ends_late:
                yield error("PUR_GRANT_OVERLAP", "GRANT_OUTSIDE_PUR",
                            f"the grant runs {day(grant.effective_from)} – {day(grant.effective_to)}, outside its "
                            f"PUR's {day(pur.effective_from)} – {day(pur.effective_to)}", grant, pur)


def gap_between_purs(s: ProductSnapshot) -> Iterator[Finding]:
    """Warning: consecutive PURs of the same resource leave more than 12 hours uncovered."""
    by_resource: dict[str, list[ProductUsageResource]] = {}
    for pur in s.purs:
        by_resource.setdefault(pur.resource_code, []).append(pur)
    for resource, purs in by_resource.items():
        purs.sort(key=lambda p: p.effective_from)
        for prev, nxt, gap in gaps(purs):
            yield warning("GAP_BETWEEN_PURS", "PUR_GAP",
                          f"{resource} is not covered for {hours(gap)} between {day(prev.effective_to)} and "
                          f"{day(nxt.effective_from)}", prev, nxt)


def gap_between_rates(s: ProductSnapshot) -> Iterator[Finding]:
    """Warning: consecutive rate card entries of one PUR leave more than 12 hours without a rate."""
    for pur in s.purs:
        for prev, nxt, gap in gaps(entries_in(s, pur)):
            yield warning("GAP_BETWEEN_RATES", "RATE_GAP",
                          f"{pur.resource_code} has no rate for {hours(gap)} between {day(prev.effective_to)} and "
                          f"{day(nxt.effective_from)}", pur, prev, nxt)


def gap_at_pur_start(s: ProductSnapshot) -> Iterator[Finding]:
    """Warning: the PUR starts more than 12 hours before its first rate card entry."""
    for pur in s.purs:
        entries = entries_in(s, pur)
        if entries and entries[0].effective_from - pur.effective_from > TOLERATED_GAP:
            first = entries[0]
            yield warning("GAP_AT_PUR_START", "RATE_START_GAP",
                          f"{pur.resource_code} has no rate for the first "
                          f"{hours(first.effective_from - pur.effective_from)} of its PUR "
                          f"({day(pur.effective_from)} to {day(first.effective_from)})", pur, first)


def gap_at_pur_end(s: ProductSnapshot) -> Iterator[Finding]:
    """Warning: the PUR ends more than 12 hours after its last rate card entry (or never, while the rates end)."""
    for pur in s.purs:
        entries = entries_in(s, pur)
        if not entries or any(e.effective_to is None for e in entries):
            continue
        last = max(entries, key=lambda e: e.effective_to or e.effective_from)
        assert last.effective_to is not None
        if pur.effective_to is None:
            yield warning("GAP_AT_PUR_END", "RATE_END_GAP",
                          f"{pur.resource_code}'s PUR never ends but its last rate ends {day(last.effective_to)}",
                          pur, last)
        elif pur.effective_to - last.effective_to > TOLERATED_GAP:
            yield warning("GAP_AT_PUR_END", "RATE_END_GAP",
                          f"{pur.resource_code} has no rate for the last "
                          f"{hours(pur.effective_to - last.effective_to)} of its PUR "
                          f"({day(last.effective_to)} to {day(pur.effective_to)})", pur, last)


RULES = (effectivity_mismatch, grant_within_pur, gap_between_purs, gap_between_rates, gap_at_pur_start,
         gap_at_pur_end)
