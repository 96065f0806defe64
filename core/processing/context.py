"""What rating reads, as plain data: a snapshot of the tenant's ACTIVE catalog, the accounts' subscriptions
(``core.subscriptions``) and the wallets (``core.wallets``) a batch of usage records may draw from.

Storage builds these once per stream batch (``infra.rating_repo``); everything in ``core.processing`` is a pure
function of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from datetime import datetime

from core.catalog import (
    EffectivePolicy,
    Product,
    ProductUsageGrant,
    ProductUsageResource,
    RateCard,
    RateCardEntry,
    RecordStatus,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageResource,
    effective_at,
)
from core.subscriptions import Subscription
from core.summaries import BillingTerms, UsageSummary
from core.values import immutable
from core.wallets import CreditCounter, WalletRef

ACTIVE = RecordStatus.ACTIVE


@immutable
class CatalogView:
    """The catalog records rating may use. Only ACTIVE records count (DOMAIN §1); callers may pass any."""

    resources: Mapping[str, UsageResource] = field(default_factory=dict)
    units: Mapping[str, UnitOfMeasure] = field(default_factory=dict)
    classes: Mapping[str, UnitOfMeasureClass] = field(default_factory=dict)
    products: Mapping[str, Product] = field(default_factory=dict)
    purs: Mapping[str, tuple[ProductUsageResource, ...]] = field(default_factory=dict)  # by product code
    grants: Mapping[str, tuple[ProductUsageGrant, ...]] = field(default_factory=dict)  # by PUR id
    policies: Mapping[str, EffectivePolicy] = field(default_factory=dict)  # resolved, by PUR id
    rate_cards: Mapping[str, RateCard] = field(default_factory=dict)
    rate_entries: tuple[RateCardEntry, ...] = ()

    def resource(self, code: str) -> UsageResource | None:
        resource = self.resources.get(code)
        return resource if resource is not None and resource.status == ACTIVE else None

    def unit(self, code: str) -> UnitOfMeasure | None:
        return self.units.get(code)

    def product(self, code: str) -> Product | None:
        product = self.products.get(code)
        return product if product is not None and product.status == ACTIVE else None

    def pur_for(self, product_code: str, resource_code: str, at: datetime) -> ProductUsageResource | None:
        """The product's ACTIVE PUR for the resource effective at ``at`` (the latest started when several are)."""
        found = [p for p in self.purs.get(product_code, ())
                 if p.resource_code == resource_code and p.status == ACTIVE
                 and effective_at(p.effective_from, p.effective_to, at)]
        return max(found, key=lambda p: (p.effective_from, p.id)) if found else None

    def entries_for(self, resource_code: str | None, at: datetime) -> list[RateCardEntry]:
        """ACTIVE entries of ACTIVE cards for the resource (None: blanket entries), both effective at ``at``."""
        out = []
        for entry in self.rate_entries:
            card = self.rate_cards.get(entry.rate_card_id)
            if (entry.resource_code == resource_code and entry.status == ACTIVE
                    and effective_at(entry.effective_from, entry.effective_to, at)
                    and card is not None and card.status == ACTIVE
                    and effective_at(card.effective_from, card.effective_to, at)):
                out.append(entry)
        return out


def billing_terms(subscription: Subscription) -> BillingTerms:
    """A subscription's billing periods: its anchor (start, billing day), term and term unit."""
    return BillingTerms(subscription.billing, subscription.billing_term, subscription.billing_term_unit)


@immutable
class WalletState:
    """A wallet (``core.wallets.WalletRef``: its grants) and its credit counters as storage holds them."""

    ref: WalletRef
    counters: Mapping[str, CreditCounter] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.ref.id


@immutable
class RatingContext:
    """Everything a batch of records is rated against."""

    catalog: CatalogView
    now: datetime
    subscriptions: Mapping[str, tuple[Subscription, ...]] = field(default_factory=dict)  # by account
    wallets: Mapping[str, WalletState] = field(default_factory=dict)  # by wallet id
    summaries: Mapping[tuple[str, str], UsageSummary] = field(default_factory=dict)  # by (account, summary id)
