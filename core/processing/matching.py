"""Which subscription, wallet, policy and rate a usage record is rated against (DOMAIN §3.1, §3.2, §3.7, §3.8, §4).

- Matching: ``core.subscriptions.matching_subscriptions`` — the account's subscriptions active at the record's
  time (its end time) that cover the resource then (their product's ACTIVE PUR, as subscribed); when the partner
  names a subscription, only that one. The PUR's effective policy and token resource come from the catalog.
- Rates: per covering subscription, the BASE rate card entry for the resource effective then (an entry naming
  the product wins over a generic one); tiers come with the entry, or from a TIER card entry for the resource
  (or a blanket one) when the BASE entry has none.
- Competing rates (shared wallets): the rate of the most recently started subscription wins; ties go to the
  cheaper rate.
- Which wallet pays (as ``infra.wallets_repo`` documents it): of the covering subscriptions' wallets, most
  recently started first, the first that holds anything at the usage time, else the first. With ACCOUNT binding
  that is the one shared wallet. Of the subscriptions filling the paying wallet, the rate's winner (else the most
  recently started) gives the policy, the billing periods and the summary's owner.
- Commitments: when a QUANTITY or TOKEN commitment covers the resource, overage after the commitment is priced
  at the anchor's rate (BOUNDED_OBJECT_RATE) or the lowest commitment rate (LOWEST_COMMITMENT_RATE), per the
  commitment's policy. A MONETARY commitment of the rate's currency pays the priced amount until it is used up.
- Tokens: a resource with a token resource (the PUR's, else the resource's) is converted at ``tokensPerUnit``;
  the tokens are drawn from the token resource's wallet and their overage priced at its rate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal

from core.catalog import (
    CommitmentRate,
    EffectivePolicy,
    ProductUsageResource,
    RateCardEntry,
    RateCardType,
    ResourceCategory,
    UsageModelType,
    UsageResource,
    pricing_spec,
)
from core.periods import as_utc
from core.policies import resolve
from core.processing.context import CatalogView, billing_terms
from core.processing.outcome import Problem, RatingCode
from core.rating import PriceSpec, convert
from core.rating.model import EXACT
from core.subscriptions import Subscription, matching_subscriptions
from core.summaries import BillingTerms
from core.usage import UsageRecord
from core.values import immutable

COMMITMENTS = (UsageModelType.QUANTITY_COMMITMENT, UsageModelType.TOKEN_COMMITMENT)
#: the effective policy when a product names none at any level (DOMAIN §1 defaults)
DEFAULT_POLICY = resolve(None, None, {})


@immutable
class Rate:
    """The price of overage: a BASE entry, possibly with the tiers of a TIER entry (``key`` names both)."""

    key: str
    spec: PriceSpec
    entry: RateCardEntry

    @property
    def tiered(self) -> bool:
        return bool(self.spec.tiers)


@immutable
class Coverage:
    """One subscription that covers a record's resource at its time, with its PUR, policy and rate."""

    subscriber: Subscription
    pur: ProductUsageResource | None
    model_type: UsageModelType
    policy: EffectivePolicy
    rate: Rate | None


@immutable
class Resolution:
    """What a record is rated against. ``quantity`` is in ``unit_code``, the default unit of ``resource``
    (the token resource when the record's resource converts to tokens)."""

    payer: Subscription
    pur: ProductUsageResource | None
    policy: EffectivePolicy
    resource: UsageResource
    unit_code: str
    quantity: Decimal
    rate: Rate | None
    at: datetime
    #: the wallet of a MONETARY commitment that pays the priced amount
    monetary: str | None = None

    @property
    def wallet_id(self) -> str:
        return self.payer.wallet_id(self.resource.code)

    @property
    def binding_target(self) -> str:
        return self.payer.wallet_owner

    @property
    def billing(self) -> BillingTerms:
        return billing_terms(self.payer)


def usage_time(record: UsageRecord) -> datetime:
    """The instant that decides periods, effectivity and drawdown: the end time (DOMAIN §3.1)."""
    return as_utc(record.end_time)


#: Whether a wallet holds anything drawable at a time (the batch's wallets know; without them, every one does).
Holds = Callable[[str, datetime], bool]


def resolve_record(record: UsageRecord, catalog: CatalogView, subscriptions: tuple[Subscription, ...],
                   holds: Holds = lambda wallet_id, at: True) -> Resolution | Problem:
    """Everything rating needs for ``record``, or the problem that keeps it from being rated."""
    at = usage_time(record)
    resource = catalog.resource(record.resource_code)
    if resource is None:
        return Problem.error(RatingCode.UNKNOWN_RESOURCE,
                             f"usage resource '{record.resource_code}' does not exist or is not ACTIVE; activate it "
                             "(or correct the record) and set the record back to NEW")
    quantity = converted_quantity(record, resource, catalog)
    if isinstance(quantity, Problem):
        return quantity
    covering = coverages(record, resource.code, catalog, subscriptions, at)
    if isinstance(covering, Problem):
        return covering
    winner = competing_winner(covering, catalog)
    payer_cov = paying(covering, winner, resource.code, holds, at)
    token_code = (payer_cov.pur.token_resource_code if payer_cov.pur else None) or resource.token_resource_code
    if token_code:
        return _token_resolution(record, resource, quantity, token_code, payer_cov, catalog, subscriptions, at,
                                 holds)
    rate = winner.rate if winner else None
    return Resolution(payer=payer_cov.subscriber, pur=payer_cov.pur, policy=payer_cov.policy, resource=resource,
                      unit_code=resource.default_unit_code, quantity=quantity, rate=rate, at=at,
                      monetary=_monetary(rate, catalog, subscriptions, at))


def converted_quantity(record: UsageRecord, resource: UsageResource, catalog: CatalogView) -> Decimal | Problem:
    """The record's quantity in the resource's default unit: ``qty × factor(unit) / factor(default)``."""
    raw = record.prerated_quantity if record.prerated_amount is not None else record.quantity
    if raw is None:
        return Problem.error(RatingCode.MISSING_QUANTITY,
                             "the record has no quantity (or no preratedQuantity for its preratedAmount); amend it")
    if raw < 0:
        return Problem.error(RatingCode.NEGATIVE_QUANTITY, f"quantity {raw} is negative; amend the record")
    unit_code = record.unit_code or resource.default_unit_code
    unit = catalog.unit(unit_code)
    default = catalog.unit(resource.default_unit_code)
    if unit is None or unit.status != "ACTIVE":
        return Problem.error(RatingCode.UNKNOWN_UNIT,
                             f"unit '{unit_code}' does not exist or is not ACTIVE; amend the record's unit")
    if unit.class_code != resource.unit_class_code:
        return Problem.error(RatingCode.UNIT_NOT_IN_CLASS,
                             f"unit '{unit_code}' belongs to class '{unit.class_code}', but resource "
                             f"'{resource.code}' is measured in class '{resource.unit_class_code}'; amend the unit")
    if default is None:
        return Problem.error(RatingCode.UNKNOWN_UNIT,
                             f"resource '{resource.code}' names default unit '{resource.default_unit_code}', which "
                             "does not exist; fix the resource and set the record back to NEW")
    return convert(raw, unit.conversion_factor, default.conversion_factor)


def coverages(record: UsageRecord, resource_code: str, catalog: CatalogView,
              subscriptions: tuple[Subscription, ...], at: datetime) -> list[Coverage] | Problem:
    """The account's subscriptions covering ``resource_code`` at ``at`` (only the named one, when named)."""
    account = record.account_external_id
    if not subscriptions:
        return Problem.unrated(RatingCode.NO_SUBSCRIPTION,
                               f"account '{account}' has no subscription; create one whose product covers "
                               f"'{resource_code}' at {at.isoformat()} and set the record back to NEW")
    named = record.subscription_external_id
    pool = subscriptions
    if named:
        pool = tuple(s for s in subscriptions if s.external_id == named)
        if not pool:
            return Problem.unrated(RatingCode.UNKNOWN_SUBSCRIPTION,
                                   f"account '{account}' has no subscription '{named}'; "
                                   "create it (or amend the record) and set the record back to NEW")
    found = covering(pool, resource_code, catalog, at)
    if not found:
        names = ", ".join(sorted(s.external_id for s in pool))
        return Problem.unrated(RatingCode.NOT_COVERED,
                               f"no active subscription of account '{account}' ({names}) has an ACTIVE product "
                               f"usage resource for '{resource_code}' effective at {at.isoformat()}; subscribe the "
                               "account to a product that covers it and set the record back to NEW")
    return found


def covering(pool: Iterable[Subscription], resource_code: str, catalog: CatalogView, at: datetime
             ) -> list[Coverage]:
    """The subscriptions of ``pool`` covering the resource at ``at``, most recently started first."""
    out = []
    for sub in matching_subscriptions(pool, resource_code, at):
        product = catalog.products.get(sub.product_code)
        pur = catalog.pur_for(sub.product_code, resource_code, at)
        policy = (catalog.policies.get(pur.id) if pur else None) or DEFAULT_POLICY
        model = product.usage_model_type if product else UsageModelType.ANCHOR
        out.append(Coverage(sub, pur, model, policy, rate_for(catalog, resource_code, sub.product_code, at)))
    return out


def rate_for(catalog: CatalogView, resource_code: str, product_code: str | None, at: datetime) -> Rate | None:
    """The BASE entry for the resource effective at ``at`` (the product's own first), with its tiers."""
    entries = catalog.entries_for(resource_code, at)
    base = [e for e in entries if _card_type(catalog, e) == RateCardType.BASE
            and e.product_code in (product_code, None)]
    if not base:
        return None
    entry = max(base, key=lambda e: (e.product_code is not None, e.effective_from, e.id))
    if entry.tiers:
        return Rate(entry.id, pricing_spec(entry), entry)
    tier_entry = _tier_entry(catalog, resource_code, product_code, at)
    if tier_entry is None:
        return Rate(entry.id, pricing_spec(entry), entry)
    spec = pricing_spec(entry)
    tiered = PriceSpec(spec.rate, spec.currency, tier_entry.tier_mode, pricing_spec(tier_entry).tiers)
    return Rate(f"{entry.id}+{tier_entry.id}", tiered, entry)


def _tier_entry(catalog: CatalogView, resource_code: str, product_code: str | None, at: datetime
                ) -> RateCardEntry | None:
    for resource in (resource_code, None):  # the resource's own tier entry, else a blanket one
        found = [e for e in catalog.entries_for(resource, at)
                 if _card_type(catalog, e) == RateCardType.TIER and e.tiers and e.tier_mode is not None
                 and e.product_code in (product_code, None)]
        if found:
            return max(found, key=lambda e: (e.product_code is not None, e.effective_from, e.id))
    return None


def _card_type(catalog: CatalogView, entry: RateCardEntry) -> RateCardType | None:
    card = catalog.rate_cards.get(entry.rate_card_id)
    return card.type if card else None


def paying(covering: list[Coverage], winner: Coverage | None, resource_code: str, holds: Holds, at: datetime
           ) -> Coverage:
    """The coverage whose wallet pays: the first wallet (most recently started first) that holds anything at
    ``at``, else the first; represented by the rate's winner when it fills that wallet."""
    wallets = list(dict.fromkeys(c.subscriber.wallet_id(resource_code) for c in covering))
    wallet = wallets[0] if len(wallets) == 1 else next((w for w in wallets if holds(w, at)), wallets[0])
    filling = [c for c in covering if c.subscriber.wallet_id(resource_code) == wallet]
    return winner if winner in filling else filling[0]


def competing_winner(covering: list[Coverage], catalog: CatalogView) -> Coverage | None:
    """The coverage whose rate applies (DOMAIN §3.8 and §4), or None when none has a rate."""
    rated = [c for c in covering if c.rate is not None]
    if not rated:
        return None
    commitments = [c for c in covering if c.model_type in COMMITMENTS]
    if commitments:
        newest_commitment = max(commitments, key=_started)
        if newest_commitment.policy.commitment_rate == CommitmentRate.BOUNDED_OBJECT_RATE:
            anchors = [c for c in rated if c.model_type == UsageModelType.ANCHOR]
            if anchors:
                return _newest_then_cheapest(anchors)
        else:
            committed = [c for c in rated if c.model_type in COMMITMENTS]
            if committed:
                return min(committed, key=lambda c: (_rate_value(c), c.subscriber.external_id))
    return _newest_then_cheapest(rated)


def _newest_then_cheapest(rated: list[Coverage]) -> Coverage:
    newest = max(_started(c) for c in rated)
    tied = [c for c in rated if _started(c) == newest]
    return min(tied, key=lambda c: (_rate_value(c), c.subscriber.external_id))


def _started(c: Coverage) -> datetime:
    return as_utc(c.subscriber.start_date)


def _rate_value(c: Coverage) -> Decimal:
    assert c.rate is not None
    return c.rate.spec.rate


def _token_resolution(record: UsageRecord, resource: UsageResource, quantity: Decimal, token_code: str,
                      payer_cov: Coverage, catalog: CatalogView, subscriptions: tuple[Subscription, ...],
                      at: datetime, holds: Holds) -> Resolution | Problem:
    token = catalog.resource(token_code)
    if token is None:
        return Problem.error(RatingCode.UNKNOWN_RESOURCE,
                             f"resource '{resource.code}' converts to token resource '{token_code}', which does not "
                             "exist or is not ACTIVE; activate it and set the record back to NEW")
    if resource.tokens_per_unit is None:
        return Problem.error(RatingCode.NO_TOKEN_FACTOR,
                             f"resource '{resource.code}' converts to tokens of '{token_code}' but has no "
                             "tokensPerUnit; set it and set the record back to NEW")
    tokens = EXACT.multiply(quantity, resource.tokens_per_unit)
    token_covering = covering(subscriptions, token_code, catalog, at)
    if token_covering:
        winner = competing_winner(token_covering, catalog)
        payer = paying(token_covering, winner, token_code, holds, at)
        rate = winner.rate if winner else None
        pur, policy, subscriber = payer.pur, payer.policy, payer.subscriber
    else:
        rate = rate_for(catalog, token_code, payer_cov.subscriber.product_code, at)
        pur, policy, subscriber = payer_cov.pur, payer_cov.policy, payer_cov.subscriber
    return Resolution(payer=subscriber, pur=pur, policy=policy, resource=token, unit_code=token.default_unit_code,
                      quantity=tokens, rate=rate, at=at, monetary=_monetary(rate, catalog, subscriptions, at))


def _monetary(rate: Rate | None, catalog: CatalogView, subscriptions: tuple[Subscription, ...], at: datetime
              ) -> str | None:
    """The wallet of the oldest MONETARY commitment in the rate's currency that covers ``at``."""
    if rate is None or rate.spec.currency is None:
        return None
    found: list[tuple[datetime, str, str]] = []
    for sub in subscriptions:
        product = catalog.products.get(sub.product_code)
        if product is None or product.usage_model_type != UsageModelType.MONETARY_COMMITMENT:
            continue
        for subscribed in sub.resources:
            currency = catalog.resource(subscribed.resource_code)
            if (currency is not None and currency.category == ResourceCategory.CURRENCY
                    and currency.default_unit_code == rate.spec.currency and sub.covers(currency.code, at)):
                found.append((as_utc(sub.start_date), sub.external_id, sub.wallet_id(currency.code)))
    return min(found)[2] if found else None
