"""Subscription changes (DOMAIN §2 "Subscription changes", §4 proration): amend the quantity, cancel, renew.

Each change is a pure function ``Subscription -> Subscription`` (version + 1, the change appended to its history).
Nothing is credited or taken by a job: buckets are lazy and deterministic (``core.grants``), so a change only edits
the subscription's grant schedules, and ``Account.wallets(asOf)`` and rating see it the moment it is stored.

- **Amend** (quantity from an effective date): every grant schedule gets a ``QuantityChange`` to the new share
  (``unit quantity × new quantity``, floored). In the current validity period the added share is an AMEND bucket
  prorated by DOMAIN §4 — ``floor_to_unit_scale(share × days_remaining / days_in_period)``, days inclusive — and
  from the next period on every credit is the full new share. A decrease removes the prorated share (rounded up:
  what is kept never exceeds what was paid for) from the current period's buckets at the effective date (an
  EXPIRY entry), newest bucket first, but **never below what
  has been consumed**: a bucket keeps at least what its chain has been debited (its balance stops at 0, never
  negative), so usage already rated is never touched and never re-rated. The effective date must lie within the
  term and not before an earlier amendment's.
- **Cancel** (an end date on or before the current end, after the start): the subscription, its matching and
  all of its buckets end then (what is left expires, an EXPIRY entry); later usage finds no subscription and is
  WARNING_UNRATED. Storage refuses a cancellation that would end the term before usage it already rated.
- **Renew** (a later end date, or a number of billing terms): the term is extended; refreshing grants keep
  refreshing until the new end, and a one-time grant (no refresh) is granted afresh for the new term (a new
  schedule segment from the old end). A subscription without an end date never needs renewing: its refreshing
  grants go on indefinitely (a one-time grant is granted once).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from core.errors import Collector, DomainError, ErrorCode
from core.grants import GrantSchedule, QuantityChange
from core.money import QUANTITY_SCALE, scale_of
from core.periods import MONTHS_PER_UNIT, add_months, as_utc
from core.subscriptions import ChangeKind, Subscription, SubscriptionChange
from core.wallets import WalletGrant, schedule_id, share

RENEWAL_SEP = "~R"  # a renewal segment's grant id: ``{subscription}/{grant}~R{n}`` (never ':' nor '/')


def amend(sub: Subscription, quantity: Decimal, effective_date: datetime, now: datetime) -> Subscription:
    """The subscription with ``quantity`` from ``effective_date`` on; unchanged when it already has it."""
    effective = as_utc(effective_date)
    errors = Collector()
    if quantity <= 0:
        code = ErrorCode.NEGATIVE_QUANTITY if quantity < 0 else ErrorCode.INVALID_VALUE
        errors.add(code, f"quantity must be greater than 0 (got {quantity}); cancel the subscription to end it",
                   "quantity")
    elif scale_of(quantity) > QUANTITY_SCALE:
        errors.add(ErrorCode.TOO_MANY_DECIMALS, f"quantity has more than {QUANTITY_SCALE} decimal places", "quantity")
    if not sub.active_at(effective):
        errors.add(ErrorCode.INVALID_RANGE, f"effectiveDate {effective.isoformat()} is outside the subscription's "
                   f"term ({_term(sub)})", "effectiveDate")
    last = max((c.effective_date for c in sub.changes if c.kind == ChangeKind.AMENDED), default=None)
    if last is not None and effective < last:
        errors.add(ErrorCode.INVALID_RANGE, f"effectiveDate {effective.isoformat()} is before the last amendment's "
                   f"({last.isoformat()}); amendments apply in date order", "effectiveDate")
    errors.raise_if_any()
    if quantity == sub.quantity:
        return sub
    before = _unit_quantities(sub)

    def amended(grant: WalletGrant) -> WalletGrant:
        unit = before[grant.schedule.grant_id]
        change = QuantityChange(effective, share(unit, quantity))
        return replace(grant, schedule=replace(grant.schedule, changes=(*grant.schedule.changes, change)),
                       unit_quantity=unit)

    return _changed(sub, replace(_map_grants(sub, amended), quantity=quantity), ChangeKind.AMENDED, effective, now)


def cancel(sub: Subscription, end_date: datetime, now: datetime) -> Subscription:
    """The subscription ending at ``end_date``; unchanged when it already ends then."""
    end = as_utc(end_date)
    if end <= sub.start_date:
        raise DomainError(ErrorCode.INVALID_RANGE, f"endDate {end.isoformat()} must be after the subscription's "
                          f"start {sub.start_date.isoformat()}", "endDate")
    if sub.end_date is not None and end > sub.end_date:
        raise DomainError(ErrorCode.INVALID_RANGE, f"endDate {end.isoformat()} is after the current end "
                          f"{sub.end_date.isoformat()}; use renewSubscription to extend the term", "endDate")
    if end == sub.end_date:
        return sub
    ended = _map_grants(sub, lambda g: replace(g, schedule=replace(g.schedule, subscription_end=end)))
    return _changed(sub, replace(ended, end_date=end), ChangeKind.CANCELLED, end, now)


def renew(sub: Subscription, now: datetime, end_date: datetime | None = None, terms: int | None = None
          ) -> Subscription:
    """The subscription with its term extended to ``end_date``, or by ``terms`` billing terms."""
    if sub.end_date is None:
        raise DomainError(ErrorCode.INVALID_VALUE, f"subscription '{sub.external_id}' has no end date: it runs, and "
                          "its refreshing grants renew, indefinitely", "externalId")
    if (end_date is None) == (terms is None):
        raise DomainError(ErrorCode.INVALID_VALUE, "give either endDate or terms", "endDate")
    old_end = sub.end_date
    if terms is not None:
        if terms < 1:
            raise DomainError(ErrorCode.INVALID_VALUE, f"terms must be at least 1 (got {terms})", "terms")
        new_end = add_months(old_end, terms * sub.billing_term * MONTHS_PER_UNIT[sub.billing_term_unit])
    else:
        assert end_date is not None
        new_end = as_utc(end_date)
        if new_end <= old_end:
            raise DomainError(ErrorCode.INVALID_RANGE, f"endDate {new_end.isoformat()} must be after the current "
                              f"end {old_end.isoformat()}; use cancelSubscription to end earlier", "endDate")
    renewal = 1 + sum(1 for c in sub.changes if c.kind == ChangeKind.RENEWED)
    units = _unit_quantities(sub)
    resources = []
    for subscribed in sub.resources:
        grants = [replace(g, schedule=replace(g.schedule, subscription_end=new_end),
                          unit_quantity=units[g.schedule.grant_id]) for g in subscribed.grants]
        latest: dict[str, WalletGrant] = {}
        for grant in grants:  # the newest segment of each one-time grant is granted afresh from the old end
            if grant.schedule.refresh is None:
                latest[grant.product_grant_id] = grant
        for grant in latest.values():
            grants.append(replace(grant, schedule=_fresh_segment(grant, old_end, renewal)))
        resources.append(replace(subscribed, grants=tuple(grants)))
    renewed = replace(sub, end_date=new_end, resources=tuple(resources))
    return _changed(sub, renewed, ChangeKind.RENEWED, old_end, now)


# ---------------------------------------------------------------------------------------------- helpers
def _fresh_segment(grant: WalletGrant, old_end: datetime, renewal: int) -> GrantSchedule:
    schedule = grant.schedule
    base = schedule_id(grant.subscription_external_id, grant.product_grant_id)
    return replace(schedule, grant_id=f"{base}{RENEWAL_SEP}{renewal}", effective_from=old_end,
                   quantity=schedule.quantity_at(old_end), changes=())


def _unit_quantities(sub: Subscription) -> dict[str, Decimal]:
    """Each grant's quantity per subscribed unit (kept since creation; derived for older subscriptions)."""
    created_with = sub.changes[0].quantity_before if sub.changes else sub.quantity
    return {g.schedule.grant_id: g.unit_quantity if g.unit_quantity is not None
            else (g.schedule.quantity / created_with).quantize(Decimal("1e-12")) for r in sub.resources
            for g in r.grants}


def _map_grants(sub: Subscription, change: Callable[[WalletGrant], WalletGrant]) -> Subscription:
    resources = tuple(replace(r, grants=tuple(change(g) for g in r.grants)) for r in sub.resources)
    return replace(sub, resources=resources)


def _changed(before: Subscription, after: Subscription, kind: ChangeKind, effective: datetime, now: datetime
             ) -> Subscription:
    """``after`` as the next version of ``before``, with the change in its history."""
    record = SubscriptionChange(kind, effective, before.quantity, after.quantity, before.end_date, after.end_date,
                                now, before.version + 1)
    return replace(after, version=before.version + 1, changes=(*before.changes, record))


def _term(sub: Subscription) -> str:
    end = sub.end_date.isoformat() if sub.end_date else "no end"
    return f"{sub.start_date.isoformat()} – {end}"
