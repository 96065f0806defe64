"""Wallets: a subscription's product grants as grant schedules, and a wallet's buckets and ledger as of any time.

A wallet is one binding target (a subscription, or an account) × one resource; its grants are the schedules of
every subscription bound to it. Nothing here is materialised by a scheduled job. Buckets are lazy and
deterministic: ``core.grants.bucket_plan`` lists every bucket a grant yields up to a time (first credit, each
refresh, each potential rollover, with stable ids) and ``core.grants.settle`` works out, from the debits booked
against them, what each was granted, what is left, what rolled over and what expired. So the balances are right
as of ANY time — past, present or future — the moment anyone asks, and nobody has to run anything.

Storage therefore keeps only what cannot be derived: per credit, the quantity debited from each bucket of its
chain (the credit and the rollovers that carry its balance on), and an append-only log of DEBIT and REVERSAL
entries. The lifecycle entries of the ledger (GRANT, REFRESH, ROLLOVER, EXPIRY) are derived from the settlement
with deterministic keys, so they can never be missing, duplicated or stale.

**Chains.** A credit of ``G`` and its rollovers form one pool: the k-th rollover is granted what the chain left
at the end of the previous validity (at most the rollover cap; a quantity decrease may remove part of the credit
first), so the sum of the chain's debits can never exceed ``G``. A debit of a bucket draws at most its balance
less what the rollovers after it have been debited (they were carried on from that balance) — without cap or
decrease that is ``G − chain total`` — which also covers late usage booked into an already rolled-over bucket.
Storage guards the counter each plan read with one conditional counter per credit (see ``infra.wallets_repo``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from core.bounds import BOUNDS, DecimalKind, show
from core.catalog import (
    GrantType,
    Policy,
    Product,
    ProductUsageGrant,
    ProductUsageResource,
    UnitOfMeasure,
    UsageModelType,
    UsageResource,
)
from core.drawdown import Bucket, DrawdownOrder, DrawdownResult, draw_down
from core.errors import DomainError, ErrorCode
from core.grants import (
    BucketSource,
    BucketState,
    GrantSchedule,
    GrantSource,
    LedgerEvent,
    PlannedBucket,
    Refresh,
    Settlement,
    bucket_plan,
    rollover_prefix,
    settle,
)
from core.money import floor_quantity, normalize_quantity
from core.periods import BillingAnchor, PeriodUnit, as_utc, earliest
from core.rating.units import convert
from core.values import immutable

ZERO = Decimal(0)
#: A subscription's grant holds less than this in the resource's default unit (``core.bounds`` QUANTITY).
MAX_GRANTED = BOUNDS[DecimalKind.QUANTITY].maximum


class LedgerEntryType(StrEnum):
    GRANT = "GRANT"
    REFRESH = "REFRESH"
    ROLLOVER = "ROLLOVER"
    DEBIT = "DEBIT"
    EXPIRY = "EXPIRY"
    REVERSAL = "REVERSAL"


# ---------------------------------------------------------------------------------------------- grants of a wallet
@immutable
class WalletGrant:
    """One product usage grant instantiated for one subscription; ``schedule.quantity`` is in the default unit."""

    schedule: GrantSchedule
    drawdown_order: DrawdownOrder
    subscription_external_id: str
    product_grant_id: str
    #: when the subscription was created: the first grant attached to a wallet sets its drawdown order
    attached_at: datetime
    #: the grant's quantity per subscribed unit in the default unit (amendments multiply it by the new quantity);
    #: None on subscriptions stored before it was kept
    unit_quantity: Decimal | None = None


@immutable
class WalletRef:
    """A wallet and the grants that fill it: ``owner`` is the binding target (``ACCOUNT:acme``)."""

    id: str
    owner: str
    resource_code: str
    unit_code: str
    grants: tuple[WalletGrant, ...] = ()

    @property
    def order(self) -> DrawdownOrder:
        return wallet_order(self.grants)

    def grant_of(self, bucket_id: str) -> WalletGrant | None:
        """The grant a bucket comes from (bucket ids start with their grant's id)."""
        return next((g for g in self.grants if bucket_id.startswith(f"{g.schedule.grant_id}:")), None)


def schedule_id(subscription_external_id: str, product_grant_id: str) -> str:
    """Unique within a wallet: subscription ids never contain '/', grant ids never do either."""
    return f"{subscription_external_id}/{product_grant_id}"


def grant_schedule(grant: ProductUsageGrant, pur: ProductUsageResource, product: Product, resource: UsageResource,
                   units: Mapping[str, UnitOfMeasure], policies: Mapping[str, Policy], *,
                   subscription_external_id: str, subscription_quantity: Decimal, billing: BillingAnchor,
                   subscription_end: datetime | None) -> GrantSchedule:
    """A catalog grant as a schedule for one subscription.

    - quantity = grant quantity × subscription quantity, converted to the resource's default unit and floored to
      the quantity scale (never more than was paid for);
    - proration floors to the default unit's ``decimal_places`` (whole units when unset: 4,000 texts → 2,193);
    - refresh and rollover come from the grant's policies; a COMMIT grant yields COMMITMENT buckets;
    - a PACK product's buckets are PACK buckets that end with the pack (its product usage resource's end), and
      every bucket ends with the subscription; the grant's and PUR's own ends stop new credits.
    """
    unit, default = units.get(grant.unit_code), units.get(resource.default_unit_code)
    if unit is None or default is None:
        missing = grant.unit_code if unit is None else resource.default_unit_code
        raise DomainError(ErrorCode.UNKNOWN_UNIT, f"unit '{missing}' of product '{product.code}' does not exist",
                          "productCode")
    try:
        quantity = normalize_quantity(floor_quantity(
            convert(grant.quantity * subscription_quantity, unit.conversion_factor, default.conversion_factor)))
        too_large = quantity >= MAX_GRANTED
    except ArithmeticError:  # a grant or factor stored before core.bounds existed, or a product too large together
        too_large = True
    if too_large:
        raise DomainError(ErrorCode.INVALID_VALUE, f"product '{product.code}' grants {show(grant.quantity)} "
                          f"{grant.unit_code} of '{resource.code}' per unit; {show(subscription_quantity)} units of it "
                          f"are {show(MAX_GRANTED)} {resource.default_unit_code} or more, beyond what can be granted: "
                          "subscribe a smaller quantity, or correct the grant", "quantity")
    refresh_policy = policies.get(grant.refresh_policy_id) if grant.refresh_policy_id else None
    refresh = None
    if refresh_policy is not None and refresh_policy.refresh_allowed:
        refresh = Refresh(refresh_policy.refresh_frequency or 1, PeriodUnit(refresh_policy.refresh_unit or "MONTH"))
    rollover = policies.get(grant.rollover_policy_id) if grant.rollover_policy_id else None
    is_pack = product.usage_model_type == UsageModelType.PACK
    if grant.type == GrantType.COMMIT:
        source = GrantSource.COMMITMENT
    else:
        source = GrantSource.PACK if is_pack else GrantSource.GRANT
    return GrantSchedule(
        grant_id=schedule_id(subscription_external_id, grant.id),
        quantity=quantity,
        effective_from=max(as_utc(grant.effective_from), as_utc(pur.effective_from)),
        billing=billing,
        validity_term=grant.validity_term or 1,
        validity_unit=grant.validity_unit,
        effective_to=earliest(grant.effective_to, pur.effective_to),
        refresh=refresh,
        rollover_allowed=bool(rollover and rollover.rollover_allowed),
        rollover_can_expire=bool(rollover and rollover.rollover_allowed and rollover.rollover_can_expire),
        maximum_rollover_count=rollover.maximum_rollover_count if rollover else None,
        maximum_rollover_quantity=rollover.maximum_rollover_quantity if rollover else None,
        source=source,
        subscription_end=subscription_end,
        product_end=as_utc(pur.effective_to) if is_pack and pur.effective_to else None,
        unit_scale=default.decimal_places or 0,
    )


def unit_share(grant: ProductUsageGrant, resource: UsageResource, units: Mapping[str, UnitOfMeasure]
               ) -> Decimal | None:
    """The grant's quantity per subscribed unit, in the resource's default unit (None when a unit is missing)."""
    unit, default = units.get(grant.unit_code), units.get(resource.default_unit_code)
    if unit is None or default is None:
        return None
    return convert(grant.quantity, unit.conversion_factor, default.conversion_factor)


def share(unit_quantity: Decimal, subscription_quantity: Decimal) -> Decimal:
    """A grant's per-period quantity for a subscription quantity: floored to the quantity scale (never more than
    was paid for), as ``grant_schedule`` computes it. The product is first rounded to 9 places, so a unit quantity
    that is a rounded third (1,333.333333333333) times 3 gives 4,000, not 3,999.999999."""
    exact = (unit_quantity * subscription_quantity).quantize(Decimal("1e-9"), rounding=ROUND_HALF_UP)
    return normalize_quantity(floor_quantity(exact))


def wallet_order(grants: Iterable[WalletGrant]) -> DrawdownOrder:
    """A wallet draws in the order of its first grant (earliest attached, then grant id)."""
    first = min(grants, key=lambda g: (as_utc(g.attached_at), g.schedule.grant_id), default=None)
    return first.drawdown_order if first else DrawdownOrder.EXPIRING_FIRST


# ---------------------------------------------------------------------------------------------- stored debits
@immutable
class CreditCounter:
    """What storage holds per credit: its granted quantity, and the debits of each bucket of its chain."""

    credit_id: str
    granted: Decimal
    by_bucket: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum(self.by_bucket.values(), ZERO)


Counters = Mapping[str, CreditCounter]  # by credit id


def debits_by_bucket(counters: Counters) -> dict[str, Decimal]:
    return {b: q for c in counters.values() for b, q in c.by_bucket.items()}


@immutable
class BucketChange:
    """A debit (``quantity`` > 0 debited) or a reversal (< 0) of one bucket, as one conditional counter write.

    ``opening``/``closing`` are the bucket's drawable balance before and after: its credit's granted quantity
    minus everything its chain has been debited (``seen_total``, the total the write is conditioned on).
    """

    credit_id: str
    bucket_id: str
    quantity: Decimal
    opening: Decimal
    closing: Decimal
    credit_granted: Decimal
    seen_total: Decimal

    @property
    def is_debit(self) -> bool:
        return self.quantity > ZERO


@immutable
class DrawableBucket:
    bucket: Bucket
    source: BucketSource
    credit_id: str
    credit_granted: Decimal
    seen_total: Decimal


@immutable
class DrawPlan:
    """How a quantity at a time is drawn from a wallet: the drawdown result and the counter writes it needs."""

    order: DrawdownOrder
    result: DrawdownResult
    changes: tuple[BucketChange, ...]

    @property
    def debited(self) -> Decimal:
        return self.result.debited

    @property
    def overage(self) -> Decimal:
        return self.result.overage


def credit_roots(plan: Sequence[PlannedBucket]) -> dict[str, PlannedBucket]:
    """Each planned bucket's credit: itself, or the credit whose balance it carries on."""
    by_id = {b.id: b for b in plan}
    roots: dict[str, PlannedBucket] = {}
    for bucket in plan:
        root = bucket
        while root.rolls_from is not None:
            root = by_id[root.rolls_from]
        roots[bucket.id] = root
    return roots


def downstream_debits(counter: CreditCounter | None, prefix: str, completed_rollovers: int) -> Decimal:
    """What the chain's rollovers after the ``completed_rollovers``-th (ids ``{prefix}{n}``) have been debited."""
    if counter is None:
        return ZERO
    return sum((q for b, q in counter.by_bucket.items()
                if b.startswith(prefix) and int(b[len(prefix):]) > completed_rollovers), ZERO)


#: ``bucket_plan`` and ``credit_roots`` of a schedule at a time, by (id of the schedule, time): what a caller that
#: asks for the same wallets at the same times again (a rating batch: ``holds`` then ``plan_draw`` for a record,
#: the records of a metering window) keeps between calls; the entry holds the schedule, so its id stays its own
Plans = dict[tuple[int, datetime], tuple[GrantSchedule, list[PlannedBucket], dict[str, PlannedBucket]]]


def _planned(schedule: GrantSchedule, at: datetime, plans: Plans | None
             ) -> tuple[list[PlannedBucket], dict[str, PlannedBucket]]:
    if plans is None:
        plan = bucket_plan(schedule, at)
        return plan, credit_roots(plan)
    entry = plans.get((id(schedule), at))
    if entry is None or entry[0] is not schedule:
        plan = bucket_plan(schedule, at)
        entry = plans[(id(schedule), at)] = (schedule, plan, credit_roots(plan))
    return entry[1], entry[2]


def drawable(grants: Iterable[WalletGrant], counters: Counters, at: datetime, plans: Plans | None = None
             ) -> list[DrawableBucket]:
    """The buckets effective at ``at``, each with the balance its chain still holds (``plans``: see ``Plans``)."""
    at = as_utc(at)
    flat = debits_by_bucket(counters)
    out: list[DrawableBucket] = []
    for grant in grants:
        plan, roots = _planned(grant.schedule, at, plans)
        settlement = settle(plan, flat, at)
        for state in settlement.effective(at):
            root = roots[state.id]
            counter = counters.get(root.id)
            total = counter.total if counter else ZERO
            assert root.quantity is not None
            # what the bucket may still give: its balance less what the rollovers after it (planned yet or not:
            # this may be late usage) have spent, since those were carried on from this balance
            later = downstream_debits(counter, rollover_prefix(root), state.completed_rollovers)
            pool = state.balance - later
            if pool < ZERO:
                raise DomainError(ErrorCode.CONFLICT, f"credit '{root.id}' is overdrawn: {total} of {root.quantity}")
            bucket = Bucket(state.id, pool, state.effective_from, state.effective_to, state.granted_at)
            out.append(DrawableBucket(bucket, state.source, root.id, root.quantity, total))
    return out


def plan_draw(grants: Sequence[WalletGrant], counters: Counters, quantity: Decimal, at: datetime,
              order: DrawdownOrder | None = None, plans: Plans | None = None) -> DrawPlan:
    """Draw ``quantity`` (default unit) at ``at``: COMMITMENT buckets first (DOMAIN §3.8), then the others, each in
    the wallet's drawdown order; what no bucket covers is overage."""
    order = order or wallet_order(grants)
    pool = drawable(grants, counters, at, plans)
    by_bucket = {d.bucket.id: d for d in pool}
    committed = [d.bucket for d in pool if d.source == BucketSource.COMMITMENT]
    granted = [d.bucket for d in pool if d.source != BucketSource.COMMITMENT]
    first = draw_down(committed, quantity, as_utc(at), order)
    second = draw_down(granted, first.overage, as_utc(at), order)
    result = DrawdownResult(first.debits + second.debits, second.overage)
    changes = []
    for debit in result.debits:
        d = by_bucket[debit.bucket_id]
        changes.append(BucketChange(d.credit_id, debit.bucket_id, debit.quantity, debit.opening, debit.closing,
                                    d.credit_granted, d.seen_total))
    return DrawPlan(order, result, tuple(changes))


def plan_reversal(counters: Counters, debits: Sequence[tuple[str, Decimal]]) -> tuple[BucketChange, ...]:
    """Give each ``(bucket id, quantity)`` debited back to its bucket (a void or an amendment)."""
    credit_of = {b: c for c in counters.values() for b in c.by_bucket}
    running = {cid: c.total for cid, c in counters.items()}
    left = debits_by_bucket(counters)
    changes: list[BucketChange] = []
    for bucket_id, quantity in debits:
        counter = credit_of.get(bucket_id)
        if counter is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"bucket '{bucket_id}' was never debited in this wallet",
                              "bucketId")
        if quantity <= ZERO or quantity > left[bucket_id]:
            raise DomainError(ErrorCode.CONFLICT, f"cannot give back {quantity} to bucket '{bucket_id}': "
                              f"{left[bucket_id]} is debited", "quantity")
        total = running[counter.credit_id]
        opening = counter.granted - total
        changes.append(BucketChange(counter.credit_id, bucket_id, -quantity, opening, opening + quantity,
                                    counter.granted, counters[counter.credit_id].total))
        running[counter.credit_id] = total - quantity
        left[bucket_id] -= quantity
    return tuple(changes)


def book(counters: Counters, changes: Iterable[BucketChange]) -> dict[str, CreditCounter]:
    """The counters after ``changes``: what storage's conditional writes do, as a pure function."""
    out = dict(counters)
    for change in changes:
        counter = out.get(change.credit_id) or CreditCounter(change.credit_id, change.credit_granted)
        by_bucket = dict(counter.by_bucket)
        by_bucket[change.bucket_id] = by_bucket.get(change.bucket_id, ZERO) + change.quantity
        if by_bucket[change.bucket_id] < ZERO or counter.total + change.quantity > counter.granted:
            raise DomainError(ErrorCode.CONFLICT, f"bucket '{change.bucket_id}' cannot take {change.quantity}")
        out[change.credit_id] = replace(counter, by_bucket=by_bucket)
    return out


# ---------------------------------------------------------------------------------------------- balances as of a time
@immutable
class WalletBalance:
    """A wallet as of a time: every bucket started by then (with its lifecycle events), and its balance."""

    as_of: datetime
    settlement: Settlement

    @property
    def buckets(self) -> tuple[BucketState, ...]:
        return self.settlement.buckets

    @property
    def effective(self) -> tuple[BucketState, ...]:
        return self.settlement.effective(self.as_of)

    @property
    def balance(self) -> Decimal:
        return sum((b.balance for b in self.effective), ZERO)


def debits_as_of(counters: Counters, later: Iterable[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """Debited per bucket as of a time: the counters less the changes of entries effective after it
    (``later``: (bucket id, quantity debited: + for a debit, − for a reversal))."""
    flat = debits_by_bucket(counters)
    for bucket_id, quantity in later:
        flat[bucket_id] = flat.get(bucket_id, ZERO) - quantity
    return flat


def balance_as_of(grants: Iterable[WalletGrant], debited: Mapping[str, Decimal], as_of: datetime) -> WalletBalance:
    as_of = as_utc(as_of)
    buckets: list[BucketState] = []
    events: list[LedgerEvent] = []
    for grant in grants:
        settlement = settle(bucket_plan(grant.schedule, as_of), debited, as_of)
        buckets.extend(settlement.buckets)
        events.extend(settlement.events)
    buckets.sort(key=lambda b: (b.effective_from, b.granted_at, b.id))
    events.sort(key=lambda e: (e.at, e.quantity >= ZERO, e.bucket_id))
    return WalletBalance(as_of, Settlement(tuple(buckets), tuple(events)))


# ---------------------------------------------------------------------------------------------- the ledger
RANK_OUT, RANK_CREDIT, RANK_DEBIT, RANK_REVERSAL = "0", "1", "2", "3"


@immutable
class LedgerLine:
    """One change of one bucket's balance. ``quantity`` is signed: credits +, debits, expiries and rollovers out −.

    ``key`` orders the ledger by effective time (lifecycle changes at a boundary first, then debits) and is the
    paging cursor. Lifecycle lines are derived (``recorded_at`` is None); debits and reversals are stored.
    """

    key: str
    bucket_id: str
    type: LedgerEntryType
    quantity: Decimal
    opening: Decimal
    closing: Decimal
    at: datetime
    recorded_at: datetime | None = None
    usage_record_id: str | None = None
    summary_id: str | None = None


def timestamp(at: datetime) -> str:
    """Fixed-width UTC, so keys sort in time order (the same format as ``infra.codec.to_iso``)."""
    return as_utc(at).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"  # 4-digit years below 1000 too


def ledger_key(at: datetime, rank: str, ref: str) -> str:
    return f"{timestamp(at)}#{rank}{ref}"


def lifecycle_lines(settlement: Settlement) -> list[LedgerLine]:
    """GRANT/REFRESH/ROLLOVER credits and EXPIRY/ROLLOVER-out of every bucket, with opening and closing."""
    lines = []
    seen: set[str] = set()
    # what leaves a bucket at one moment, in total: a capped rollover goes out as a ROLLOVER and an EXPIRY
    left: dict[tuple[str, datetime], Decimal] = {}
    for event in settlement.events:
        if event.quantity < ZERO:
            left[(event.bucket_id, event.at)] = left.get((event.bucket_id, event.at), ZERO) - event.quantity
    for event in settlement.events:
        credit = event.quantity >= ZERO
        key = ledger_key(event.at, RANK_CREDIT if credit else RANK_OUT, event.bucket_id)
        if key in seen:
            key = f"{key}~{event.type.value}"
        seen.add(key)
        if credit:
            opening, closing = ZERO, event.quantity
        else:
            opening = left[(event.bucket_id, event.at)]
            closing = left[(event.bucket_id, event.at)] = opening + event.quantity
        lines.append(LedgerLine(key, event.bucket_id, LedgerEntryType(event.type.value), event.quantity, opening,
                                closing, event.at))
    return sorted(lines, key=lambda line: line.key)
