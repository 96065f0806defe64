"""The design-time catalog (DOMAIN §1): frozen records, their enums and the policy kinds.

Records are plain data. Codes (``code``, ``unit_code``) are unique per tenant and immutable; records without a
code carry an ``id`` chosen by the caller (storage generates it).

The package around the records: ``store`` (the port storage implements), ``checks`` (field checks shared by manual
configuration and ``core.guided_setup``), ``rules`` (each kind's value and reference rules), ``references`` (what a
record points at; activation and deletion follow from it) and ``service`` (``CatalogService``: the commands).
"""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from core.drawdown import DrawdownOrder
from core.grants import ValidityUnit
from core.periods import PeriodUnit
from core.rating.model import AdjustmentType, PriceSpec, TierMode
from core.rating.model import RateTier as PricingTier
from core.values import immutable


class RecordStatus(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


class UnitClassType(StrEnum):
    USAGE = "USAGE"
    CURRENCY = "CURRENCY"
    TOKEN = "TOKEN"


class ResourceCategory(StrEnum):
    USAGE = "USAGE"
    TOKEN = "TOKEN"
    CURRENCY = "CURRENCY"


class UsageModelType(StrEnum):
    ANCHOR = "ANCHOR"
    PACK = "PACK"
    TOKEN_COMMITMENT = "TOKEN_COMMITMENT"
    QUANTITY_COMMITMENT = "QUANTITY_COMMITMENT"
    MONETARY_COMMITMENT = "MONETARY_COMMITMENT"


class GrantType(StrEnum):
    GRANT = "GRANT"
    COMMIT = "COMMIT"


class AggregationMethod(StrEnum):
    SUM = "SUM"
    PEAK = "PEAK"


class AggregationPeriod(StrEnum):
    DAILY = "DAILY"
    MONTHLY = "MONTHLY"


class CommitmentRate(StrEnum):
    LOWEST_COMMITMENT_RATE = "LOWEST_COMMITMENT_RATE"
    BOUNDED_OBJECT_RATE = "BOUNDED_OBJECT_RATE"


class BindingType(StrEnum):
    SELF = "SELF"
    TARGET = "TARGET"


class BindingTargetType(StrEnum):
    ACCOUNT = "ACCOUNT"
    PRODUCT = "PRODUCT"
    CONTRACT = "CONTRACT"
    CUSTOM = "CUSTOM"


class RateCardType(StrEnum):
    BASE = "BASE"
    TIER = "TIER"


class PolicyKind(StrEnum):
    AGGREGATION = "AGGREGATION"
    RATING_FREQUENCY = "RATING_FREQUENCY"
    OVERAGE = "OVERAGE"
    GRANT_REFRESH = "GRANT_REFRESH"
    GRANT_ROLLOVER = "GRANT_ROLLOVER"
    COMMITMENT = "COMMITMENT"


#: compiled on first use (by re's cache), not at import
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
"""Codes sort after the key separator '#', so a product's children always sort right after it."""


# ---------------------------------------------------------------------------------------------- units
@immutable
class UnitOfMeasureClass:
    code: str
    name: str
    type: UnitClassType
    base_unit_code: str
    default_unit_code: str
    status: RecordStatus = RecordStatus.DRAFT


@immutable
class UnitOfMeasure:
    unit_code: str
    name: str
    class_code: str
    conversion_factor: Decimal
    sequence: int = 0
    decimal_places: int | None = None  # currencies: the ISO 4217 minor unit
    status: RecordStatus = RecordStatus.DRAFT


# ---------------------------------------------------------------------------------------------- resources, products
@immutable
class UsageResource:
    code: str
    name: str
    category: ResourceCategory
    unit_class_code: str
    default_unit_code: str
    token_resource_code: str | None = None
    tokens_per_unit: Decimal | None = None
    usage_definition_product_code: str | None = None
    status: RecordStatus = RecordStatus.DRAFT


@immutable
class Product:
    code: str
    name: str
    usage_model_type: UsageModelType
    status: RecordStatus = RecordStatus.DRAFT


@immutable
class ProductUsageResource:
    id: str
    product_code: str
    resource_code: str
    effective_from: datetime
    effective_to: datetime | None = None
    is_optional: bool = False
    token_resource_code: str | None = None
    status: RecordStatus = RecordStatus.DRAFT


@immutable
class ProductUsageGrant:
    id: str
    product_code: str
    pur_id: str
    type: GrantType
    quantity: Decimal
    unit_code: str
    validity_term: int | None
    validity_unit: ValidityUnit
    effective_from: datetime
    effective_to: datetime | None = None
    refresh_policy_id: str | None = None
    rollover_policy_id: str | None = None
    drawdown_order: DrawdownOrder = DrawdownOrder.EXPIRING_FIRST
    status: RecordStatus = RecordStatus.DRAFT


# ---------------------------------------------------------------------------------------------- policies
@immutable
class Policy:
    """A reusable policy record. ``settings`` holds the kind's fields (see POLICY_FIELDS)."""

    id: str
    kind: PolicyKind
    name: str
    aggregation_method: AggregationMethod | None = None
    aggregation_period: AggregationPeriod | None = None
    rating_period: AggregationPeriod | None = None
    delay: int | None = None
    delay_unit: str | None = None
    chargeable: bool | None = None
    refresh_allowed: bool | None = None
    refresh_frequency: int | None = None
    refresh_unit: PeriodUnit | None = None
    rollover_allowed: bool | None = None
    rollover_can_expire: bool | None = None
    maximum_rollover_count: int | None = None
    #: at most this much of a balance carries over per rollover (the rest expires); None = no cap
    maximum_rollover_quantity: Decimal | None = None
    commitment_rate: CommitmentRate | None = None
    status: RecordStatus = RecordStatus.DRAFT

    def settings(self) -> tuple[object, ...]:
        """The values that make two policies of one kind identical (name and id aside)."""
        return tuple(getattr(self, f) for f in POLICY_FIELDS[self.kind])


POLICY_FIELDS: dict[PolicyKind, tuple[str, ...]] = {
    PolicyKind.AGGREGATION: ("aggregation_method", "aggregation_period"),
    PolicyKind.RATING_FREQUENCY: ("rating_period", "delay", "delay_unit"),
    PolicyKind.OVERAGE: ("chargeable",),
    PolicyKind.GRANT_REFRESH: ("refresh_allowed", "refresh_frequency", "refresh_unit"),
    PolicyKind.GRANT_ROLLOVER: ("rollover_allowed", "rollover_can_expire", "maximum_rollover_count",
                                "maximum_rollover_quantity"),
    PolicyKind.COMMITMENT: ("commitment_rate",),
}

#: The four policy kinds a resource policy or product-resource policy points at.
RESOURCE_POLICY_KINDS = (PolicyKind.AGGREGATION, PolicyKind.RATING_FREQUENCY, PolicyKind.OVERAGE, PolicyKind.COMMITMENT)


@immutable
class PolicySet:
    """Pointers to one policy of each resource-level kind; ``None`` = not set at this level."""

    aggregation_policy_id: str | None = None
    rating_frequency_policy_id: str | None = None
    overage_policy_id: str | None = None
    commitment_policy_id: str | None = None

    def policy_id(self, kind: PolicyKind) -> str | None:
        return {
            PolicyKind.AGGREGATION: self.aggregation_policy_id,
            PolicyKind.RATING_FREQUENCY: self.rating_frequency_policy_id,
            PolicyKind.OVERAGE: self.overage_policy_id,
            PolicyKind.COMMITMENT: self.commitment_policy_id,
        }.get(kind)

    def ids(self) -> list[str]:
        return [i for i in (self.aggregation_policy_id, self.rating_frequency_policy_id, self.overage_policy_id,
                            self.commitment_policy_id) if i]


@immutable
class ResourcePolicy:
    resource_code: str
    policies: PolicySet
    status: RecordStatus = RecordStatus.DRAFT


@immutable
class ProductResourcePolicy:
    product_code: str
    pur_id: str
    policies: PolicySet
    status: RecordStatus = RecordStatus.DRAFT


@immutable
class GrantBindingPolicy:
    product_code: str
    binding: BindingType = BindingType.SELF
    target: BindingTargetType | None = None
    status: RecordStatus = RecordStatus.DRAFT


@immutable
class EffectivePolicy:
    aggregation_method: AggregationMethod
    aggregation_period: AggregationPeriod
    overage_chargeable: bool
    rating_delay_days: int
    commitment_rate: CommitmentRate


# ---------------------------------------------------------------------------------------------- rates
@immutable
class RateCard:
    id: str
    name: str
    type: RateCardType
    effective_from: datetime
    effective_to: datetime | None = None
    status: RecordStatus = RecordStatus.DRAFT


@immutable
class RateTier:
    lower_bound: Decimal
    upper_bound: Decimal | None
    adjustment_type: AdjustmentType
    adjustment_value: Decimal
    flat_fee: Decimal | None = None


@immutable
class RateCardEntry:
    id: str
    rate_card_id: str
    resource_code: str | None
    product_code: str | None
    rate: Decimal
    rate_unit_code: str
    effective_from: datetime
    effective_to: datetime | None = None
    tier_mode: TierMode | None = None
    tiers: tuple[RateTier, ...] = field(default_factory=tuple)
    negotiable: bool = False
    status: RecordStatus = RecordStatus.DRAFT


CatalogRecord = (
    UnitOfMeasureClass | UnitOfMeasure | UsageResource | Product | ProductUsageResource | ProductUsageGrant | Policy
    | ResourcePolicy | ProductResourcePolicy | GrantBindingPolicy | RateCard | RateCardEntry
)


def pricing_spec(entry: RateCardEntry, currency: str | None = None) -> PriceSpec:
    """The pricing engine's view of a rate card entry."""
    return PriceSpec(
        rate=entry.rate,
        currency=currency or entry.rate_unit_code,
        tier_mode=entry.tier_mode,
        tiers=tuple(PricingTier(t.lower_bound, t.upper_bound, t.adjustment_type, t.adjustment_value, t.flat_fee)
                    for t in entry.tiers),
    )


def effective_at(record_from: datetime, record_to: datetime | None, at: datetime) -> bool:
    """Half-open effectivity: from <= at < to (an open end never ends)."""
    return record_from <= at and (record_to is None or at < record_to)
