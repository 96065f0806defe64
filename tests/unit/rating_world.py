"""A small in-memory world for rating tests: an ACTIVE catalog, subscriptions built by ``core.subscriptions``, and
a fake store that books outcomes the way ``infra.rating_repo`` does (counters, summaries, records)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from core.catalog import (
    AggregationMethod,
    AggregationPeriod,
    CommitmentRate,
    EffectivePolicy,
    GrantType,
    Policy,
    PolicyKind,
    Product,
    ProductUsageGrant,
    ProductUsageResource,
    RateCard,
    RateCardEntry,
    RateCardType,
    RateTier,
    RecordStatus,
    ResourceCategory,
    UnitClassType,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageModelType,
    UsageResource,
)
from core.drawdown import DrawdownOrder
from core.grants import ValidityUnit
from core.periods import PeriodUnit
from core.processing import BatchResult, CatalogView, RatingContext, WalletState, applied, process
from core.rating import AdjustmentType, TierMode
from core.subscriptions import (
    BindingTarget,
    ProductOffer,
    Subscription,
    SubscriptionRequest,
    build_subscription,
    wallets_of,
)
from core.summaries import UsageSummary, aggregate
from core.summaries import apply as apply_delta
from core.usage import CorrectionKind, UsageRecord, UsageStatus, usage_record_id
from core.wallets import CreditCounter, book

ACTIVE = RecordStatus.ACTIVE
T0 = datetime(2026, 1, 1, tzinfo=UTC)
TENANT = "t"
D = Decimal
DEFAULT = EffectivePolicy(AggregationMethod.SUM, AggregationPeriod.MONTHLY, True, 3,
                          CommitmentRate.LOWEST_COMMITMENT_RATE)


def policy(**changes: Any) -> EffectivePolicy:
    return replace(DEFAULT, **changes)


def tier(low: str, high: str | None, kind: AdjustmentType, value: str, fee: str | None = None) -> RateTier:
    return RateTier(D(low), D(high) if high is not None else None, kind, D(value), D(fee) if fee else None)


@dataclass
class World:
    resources: dict[str, UsageResource] = field(default_factory=dict)
    units: dict[str, UnitOfMeasure] = field(default_factory=dict)
    classes: dict[str, UnitOfMeasureClass] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    purs: dict[str, list[ProductUsageResource]] = field(default_factory=dict)
    grants: dict[str, list[ProductUsageGrant]] = field(default_factory=dict)
    policies: dict[str, EffectivePolicy] = field(default_factory=dict)
    policy_records: dict[str, Policy] = field(default_factory=dict)
    cards: dict[str, RateCard] = field(default_factory=dict)
    entries: list[RateCardEntry] = field(default_factory=list)
    subscriptions: dict[str, list[Subscription]] = field(default_factory=dict)
    counter: int = 0

    def __post_init__(self) -> None:
        for code, base, default, kind, units in (
            ("COUNT", "EA", "EA", UnitClassType.USAGE, (("EA", "1"),)),
            ("DATA", "MB", "GB", UnitClassType.USAGE, (("MB", "1"), ("GB", "1024"))),
            ("TIME", "MIN", "MIN", UnitClassType.USAGE, (("MIN", "1"), ("HR", "60"))),
            ("CREDITS", "CR", "CR", UnitClassType.TOKEN, (("CR", "1"),)),
            ("CURRENCY", "USD", "USD", UnitClassType.CURRENCY, (("USD", "1"),)),
        ):
            self.classes[code] = UnitOfMeasureClass(code, code.title(), kind, base, default, ACTIVE)
            for unit_code, factor in units:
                self.units[unit_code] = UnitOfMeasure(unit_code, unit_code, code, D(factor), status=ACTIVE)
        for code in ("BASE", "TIERS"):
            self.cards[code] = RateCard(code, code, RateCardType.BASE if code == "BASE" else RateCardType.TIER, T0,
                                        status=ACTIVE)

    def _id(self) -> str:
        self.counter += 1
        return f"X{self.counter:04d}"

    # ------------------------------------------------------------------------------------------ catalog
    def resource(self, code: str, unit_class: str, default_unit: str | None = None, *,
                 token: str | None = None, tokens_per_unit: str | None = None,
                 category: ResourceCategory = ResourceCategory.USAGE) -> None:
        default = default_unit or self.classes[unit_class].default_unit_code
        self.resources[code] = UsageResource(code, code, category, unit_class, default, token,
                                             D(tokens_per_unit) if tokens_per_unit else None, status=ACTIVE)

    def product(self, code: str, model: UsageModelType = UsageModelType.ANCHOR) -> None:
        self.products[code] = Product(code, code, model, ACTIVE)

    def pur(self, product: str, resource: str, *, start: datetime = T0, end: datetime | None = None,
            policy: EffectivePolicy | None = None, token: str | None = None) -> str:
        pur_id = f"{product}:{self._id()}"
        self.purs.setdefault(product, []).append(
            ProductUsageResource(pur_id, product, resource, start, end, token_resource_code=token, status=ACTIVE))
        self.grants.setdefault(pur_id, [])
        if policy is not None:
            self.policies[pur_id] = policy
        return pur_id

    def grant(self, pur_id: str, quantity: str, *, unit: str | None = None, start: datetime = T0,
              validity: ValidityUnit = ValidityUnit.MONTH, refresh_months: int | None = None,
              kind: GrantType = GrantType.GRANT, order: DrawdownOrder = DrawdownOrder.EXPIRING_FIRST) -> None:
        product = pur_id.split(":")[0]
        pur = next(p for p in self.purs[product] if p.id == pur_id)
        refresh_id = None
        if refresh_months:
            refresh_id = f"refresh-{refresh_months}"
            self.policy_records[refresh_id] = Policy(refresh_id, PolicyKind.GRANT_REFRESH, refresh_id,
                                                     refresh_allowed=True, refresh_frequency=refresh_months,
                                                     refresh_unit=PeriodUnit.MONTH, status=ACTIVE)
        self.grants[pur_id].append(ProductUsageGrant(
            f"{pur_id}:{self._id()}", product, pur_id, kind, D(quantity),
            unit or self.resources[pur.resource_code].default_unit_code, 1, validity, start,
            refresh_policy_id=refresh_id, drawdown_order=order, status=ACTIVE))

    def rate(self, resource: str | None, rate: str, *, product: str | None = None, unit: str = "USD",
             mode: TierMode | None = None, tiers: Sequence[RateTier] = (), card: str = "BASE",
             start: datetime = T0, end: datetime | None = None) -> str:
        entry = RateCardEntry(f"{card}:{self._id()}", card, resource, product, D(rate), unit, start, end, mode,
                              tuple(tiers), status=ACTIVE)
        self.entries.append(entry)
        return entry.id

    def view(self) -> CatalogView:
        return CatalogView(resources=self.resources, units=self.units, classes=self.classes,
                           products=self.products, purs={k: tuple(v) for k, v in self.purs.items()},
                           grants={k: tuple(v) for k, v in self.grants.items()}, policies=self.policies,
                           rate_cards=self.cards, rate_entries=tuple(self.entries))

    # ------------------------------------------------------------------------------------------ runtime
    def subscribe(self, external_id: str, account: str, product: str, *, start: datetime = T0,
                  end: datetime | None = None, binding: BindingTarget = BindingTarget.SELF,
                  billing_day: int | None = None, created: datetime | None = None) -> Subscription:
        offer = ProductOffer(self.products[product], None, self.purs.get(product, []),
                             {k: v for k, v in self.grants.items() if k.startswith(f"{product}:")},
                             self.resources, self.units, self.policy_records)
        request = SubscriptionRequest(external_id, account, product, start, end_date=end,
                                      binding_target=binding, billing_day_of_month=billing_day)
        sub = build_subscription(request, offer, created or start)
        self.subscriptions.setdefault(account, []).append(sub)
        return sub


def usage(key: str, account: str, resource: str, quantity: str | None, *, unit: str | None = None,
          at: datetime = T0 + timedelta(days=5), subscription: str | None = None, prerated: str | None = None,
          correction_of: str | None = None, kind: CorrectionKind | None = None) -> UsageRecord:
    return UsageRecord(
        id=usage_record_id(TENANT, key), tenant=TENANT, idempotency_key=key, account_external_id=account,
        resource_code=resource, start_time=at, end_time=at, received_at=at,
        quantity=None if prerated else (D(quantity) if quantity is not None else None), unit_code=unit,
        subscription_external_id=subscription, prerated_amount=D(prerated) if prerated else None,
        prerated_quantity=D(quantity) if prerated and quantity is not None else None,
        correction_of=correction_of, correction_kind=kind)


class Store:
    """What storage holds between batches: counters per wallet, summaries, records as rating left them."""

    def __init__(self, world: World):
        self.world = world
        self.counters: dict[str, dict[str, CreditCounter]] = {}
        self.summaries: dict[tuple[str, str], UsageSummary] = {}
        self.records: dict[str, UsageRecord] = {}

    def context(self, now: datetime) -> RatingContext:
        subs = {a: tuple(s) for a, s in self.world.subscriptions.items()}
        refs = wallets_of([s for ss in self.world.subscriptions.values() for s in ss])
        wallets = {wid: WalletState(ref, self.counters.get(wid, {})) for wid, ref in refs.items()}
        return RatingContext(self.world.view(), now, subs, wallets, dict(self.summaries))

    def run(self, records: Iterable[UsageRecord], now: datetime = T0 + timedelta(days=20)) -> BatchResult:
        records = list(records)
        for r in records:
            self.records.setdefault(r.id, r)
        originals = {r.correction_of: self.records[r.correction_of] for r in records
                     if r.correction_of and r.correction_of in self.records}
        result = process(records, self.context(now), originals)
        for outcome in result.outcomes:
            for change in outcome.wallet_changes:
                self.counters[change.wallet_id] = book(self.counters.get(change.wallet_id, {}), change.changes)
            for ref, summary in result.new_summaries.items():
                self.summaries.setdefault(ref, summary)
            for summary_id, delta in aggregate(outcome.contributions).items():
                ref = (outcome.account_external_id, summary_id)
                self.summaries[ref] = apply_delta(self.summaries[ref], delta, now)
            record = self.records.get(outcome.record_id) or next(r for r in records if r.id == outcome.record_id)
            self.records[outcome.record_id] = applied(record, outcome)
            if outcome.reverses:
                self.records[outcome.reverses] = replace(self.records[outcome.reverses],
                                                         corrected_by=outcome.record_id)
        return result

    def summary(self, account: str, resource: str | None = None) -> UsageSummary:
        found = [s for (a, _), s in self.summaries.items()
                 if a == account and (resource is None or s.resource_code == resource)]
        assert len(found) == 1, found
        return found[0]

    def record(self, key: str) -> UsageRecord:
        return self.records[usage_record_id(TENANT, key)]

    def balance(self, wallet_id: str) -> Decimal:
        """Granted minus debited over the wallet's credits (buckets as of their grants, regardless of time)."""
        return sum((c.granted - c.total for c in self.counters.get(wallet_id, {}).values()), D(0))

    def debited(self, wallet_id: str) -> dict[str, Decimal]:
        return {b: q for c in self.counters.get(wallet_id, {}).values() for b, q in c.by_bucket.items()}


def statuses(result: BatchResult) -> list[UsageStatus]:
    return [o.status for o in result.outcomes]


def drift_of(store: Store) -> list[Any]:
    """Every summary recomputed from its records' bookings (core.summaries.recompute), against the stored one;
    and every wallet's debits against its records' (what reconciliation checks, in memory)."""
    from core.summaries import drift, recompute

    booked: dict[str, list[Any]] = {}
    for record in store.records.values():
        if record.status == UsageStatus.PROCESSED:
            for booking in record.bookings:
                booked.setdefault(booking.summary_id, []).append(booking)
    specs = {r.key: r.spec for s in store.summaries.values() for r in s.rates}
    found: list[Any] = []
    for (_, summary_id), summary in store.summaries.items():
        bookings = booked.pop(summary_id, [])
        found += drift(summary, recompute(summary, bookings, specs))
        if sum((b.amount - b.committed_amount for b in bookings), D(0)) != summary.amount:
            found.append(("record amounts", summary_id))
    found += [("bookings without a summary", k) for k in booked]
    expected: dict[str, dict[str, Decimal]] = {}
    for record in store.records.values():
        if record.status != UsageStatus.PROCESSED:
            continue
        counted = record.corrected_by is None
        for wallet_id, debits in ((record.wallet_id, record.debits),
                                  (record.commitment_wallet_id, record.commitment_debits)):
            if wallet_id and counted:
                for bucket, qty in debits:
                    expected.setdefault(wallet_id, {})[bucket] = expected.get(wallet_id, {}).get(bucket, D(0)) + qty
    for wallet_id in expected.keys() | store.counters.keys():
        have = {b: q for b, q in store.debited(wallet_id).items() if q}
        want = {b: q for b, q in expected.get(wallet_id, {}).items() if q}
        if have != want:
            found.append(("wallet", wallet_id, have, want))
    return found
