"""GraphQL types of the catalog, separate from storage rows: each is built ``from_domain`` and resolves its
nesting through the request's DataLoaders."""

from typing import Any

import strawberry

from core import catalog as c
from graphql_api.context import Info
from graphql_api.ids import to_global_id
from graphql_api.scalars import DateTime
from graphql_api.scalars import Decimal as DecimalScalar
from graphql_api.types.enums import (
    AdjustmentType,
    AggregationMethod,
    AggregationPeriod,
    BindingTargetType,
    BindingType,
    CommitmentRate,
    DrawdownOrder,
    GrantType,
    PeriodUnit,
    PolicyKind,
    RateCardType,
    RecordStatus,
    ResourceCategory,
    TierMode,
    UnitClassType,
    UsageModelType,
    ValidityUnit,
)


@strawberry.type
class UnitOfMeasure:
    id: strawberry.ID
    unit_code: str
    name: str
    conversion_factor: DecimalScalar
    decimal_places: int | None
    sequence: int
    status: RecordStatus
    class_code: str

    @classmethod
    def from_domain(cls, u: c.UnitOfMeasure) -> "UnitOfMeasure":
        return cls(id=to_global_id("UnitOfMeasure", u.unit_code), unit_code=u.unit_code, name=u.name,
                   conversion_factor=u.conversion_factor, decimal_places=u.decimal_places, sequence=u.sequence,
                   status=u.status, class_code=u.class_code)


async def unit_by_code(info: Info, code: str) -> UnitOfMeasure | None:
    unit = (await info.context.loaders.units()).get(code)
    return UnitOfMeasure.from_domain(unit) if unit else None


async def required_unit(info: Info, code: str) -> UnitOfMeasure:
    """A unit the record cannot exist without (deletes of referenced units are refused)."""
    unit = await unit_by_code(info, code)
    if unit is None:
        raise LookupError(f"unit {code} referenced but missing")
    return unit


@strawberry.type
class UnitOfMeasureClass:
    id: strawberry.ID
    code: str
    name: str
    type: UnitClassType
    status: RecordStatus
    _record: strawberry.Private[c.UnitOfMeasureClass]

    @classmethod
    def from_domain(cls, k: c.UnitOfMeasureClass) -> "UnitOfMeasureClass":
        return cls(id=to_global_id("UnitOfMeasureClass", k.code), code=k.code, name=k.name, type=k.type,
                   status=k.status, _record=k)

    @strawberry.field
    async def base_unit(self, info: Info) -> UnitOfMeasure:
        return await required_unit(info, self._record.base_unit_code)

    @strawberry.field
    async def default_unit(self, info: Info) -> UnitOfMeasure:
        return await required_unit(info, self._record.default_unit_code)

    @strawberry.field
    async def units(self, info: Info) -> list[UnitOfMeasure]:
        units = await info.context.loaders.units()
        return [UnitOfMeasure.from_domain(u) for u in units.values() if u.class_code == self.code]


@strawberry.type
class UsageResource:
    id: strawberry.ID
    code: str
    name: str
    category: ResourceCategory
    tokens_per_unit: DecimalScalar | None
    status: RecordStatus
    _record: strawberry.Private[c.UsageResource]

    @classmethod
    def from_domain(cls, r: c.UsageResource) -> "UsageResource":
        return cls(id=to_global_id("UsageResource", r.code), code=r.code, name=r.name, category=r.category,
                   tokens_per_unit=r.tokens_per_unit, status=r.status, _record=r)

    @strawberry.field
    async def unit_of_measure_class(self, info: Info) -> UnitOfMeasureClass:
        cls = (await info.context.loaders.unit_classes())[self._record.unit_class_code]
        return UnitOfMeasureClass.from_domain(cls)

    @strawberry.field
    async def default_unit(self, info: Info) -> UnitOfMeasure:
        return await required_unit(info, self._record.default_unit_code)

    @strawberry.field
    async def token_resource(self, info: Info) -> "UsageResource | None":
        return await resource_by_code(info, self._record.token_resource_code)

    @strawberry.field
    async def usage_definition_product_code(self) -> str | None:
        return self._record.usage_definition_product_code

    @strawberry.field
    async def policy(self, info: Info) -> "ResourcePolicy | None":
        rp = await info.context.loaders.resource_policy.load(self.code)
        return ResourcePolicy.from_domain(rp) if rp else None


async def resource_by_code(info: Info, code: str | None) -> UsageResource | None:
    if not code:
        return None
    r = await info.context.loaders.resource.load(code)
    return UsageResource.from_domain(r) if r else None


# ---------------------------------------------------------------------------------------------- policies
@strawberry.interface
class PolicyRecord:
    id: strawberry.ID
    name: str
    kind: PolicyKind
    status: RecordStatus


@strawberry.type
class AggregationPolicy(PolicyRecord):
    method: AggregationMethod
    period: AggregationPeriod


@strawberry.type
class RatingFrequencyPolicy(PolicyRecord):
    period: AggregationPeriod
    delay: int
    delay_unit: str


@strawberry.type
class OveragePolicy(PolicyRecord):
    chargeable: bool


@strawberry.type
class GrantRefreshPolicy(PolicyRecord):
    refresh_allowed: bool
    frequency: int | None
    unit: PeriodUnit | None


@strawberry.type
class GrantRolloverPolicy(PolicyRecord):
    rollover_allowed: bool
    rollover_can_expire: bool
    maximum_rollover_count: int | None
    maximum_rollover_quantity: DecimalScalar | None


@strawberry.type
class CommitmentPolicy(PolicyRecord):
    commitment_rate: CommitmentRate


def policy_from_domain(p: c.Policy) -> PolicyRecord:
    base: dict[str, Any] = {"id": to_global_id("Policy", p.id), "name": p.name, "kind": p.kind, "status": p.status}
    if p.kind == c.PolicyKind.AGGREGATION:
        return AggregationPolicy(**base, method=p.aggregation_method or c.AggregationMethod.SUM,
                                 period=p.aggregation_period or c.AggregationPeriod.MONTHLY)
    if p.kind == c.PolicyKind.RATING_FREQUENCY:
        return RatingFrequencyPolicy(**base, period=p.rating_period or c.AggregationPeriod.MONTHLY,
                                     delay=p.delay or 0, delay_unit=p.delay_unit or "DAY")
    if p.kind == c.PolicyKind.OVERAGE:
        return OveragePolicy(**base, chargeable=bool(p.chargeable))
    if p.kind == c.PolicyKind.GRANT_REFRESH:
        return GrantRefreshPolicy(**base, refresh_allowed=bool(p.refresh_allowed), frequency=p.refresh_frequency,
                                  unit=p.refresh_unit)
    if p.kind == c.PolicyKind.GRANT_ROLLOVER:
        return GrantRolloverPolicy(**base, rollover_allowed=bool(p.rollover_allowed),
                                   rollover_can_expire=bool(p.rollover_can_expire),
                                   maximum_rollover_count=p.maximum_rollover_count,
                                   maximum_rollover_quantity=p.maximum_rollover_quantity)
    return CommitmentPolicy(**base, commitment_rate=p.commitment_rate or c.CommitmentRate.LOWEST_COMMITMENT_RATE)


async def policy_by_id(info: Info, policy_id: str | None) -> PolicyRecord | None:
    if not policy_id:
        return None
    p = (await info.context.loaders.policies()).get(policy_id)
    return policy_from_domain(p) if p else None


POLICY_TYPES = [AggregationPolicy, RatingFrequencyPolicy, OveragePolicy, GrantRefreshPolicy, GrantRolloverPolicy,
                CommitmentPolicy]


@strawberry.type
class PolicyLinks:
    """The four resource-level policies a resource or product-resource policy points at."""

    _set: strawberry.Private[c.PolicySet]

    @strawberry.field
    async def aggregation_policy(self, info: Info) -> AggregationPolicy | None:
        return await policy_by_id(info, self._set.aggregation_policy_id)  # type: ignore[return-value]

    @strawberry.field
    async def rating_frequency_policy(self, info: Info) -> RatingFrequencyPolicy | None:
        return await policy_by_id(info, self._set.rating_frequency_policy_id)  # type: ignore[return-value]

    @strawberry.field
    async def overage_policy(self, info: Info) -> OveragePolicy | None:
        return await policy_by_id(info, self._set.overage_policy_id)  # type: ignore[return-value]

    @strawberry.field
    async def commitment_policy(self, info: Info) -> CommitmentPolicy | None:
        return await policy_by_id(info, self._set.commitment_policy_id)  # type: ignore[return-value]


@strawberry.type
class ResourcePolicy:
    id: strawberry.ID
    resource_code: str
    status: RecordStatus
    policies: PolicyLinks

    @classmethod
    def from_domain(cls, rp: c.ResourcePolicy) -> "ResourcePolicy":
        return cls(id=to_global_id("ResourcePolicy", rp.resource_code), resource_code=rp.resource_code,
                   status=rp.status, policies=PolicyLinks(_set=rp.policies))


@strawberry.type
class ProductResourcePolicy:
    id: strawberry.ID
    status: RecordStatus
    policies: PolicyLinks

    @classmethod
    def from_domain(cls, prp: c.ProductResourcePolicy) -> "ProductResourcePolicy":
        return cls(id=to_global_id("ProductResourcePolicy", prp.pur_id), status=prp.status,
                   policies=PolicyLinks(_set=prp.policies))


@strawberry.type
class GrantBindingPolicy:
    id: strawberry.ID
    product_code: str
    binding: BindingType
    target: BindingTargetType | None
    status: RecordStatus

    @classmethod
    def from_domain(cls, b: c.GrantBindingPolicy) -> "GrantBindingPolicy":
        return cls(id=to_global_id("GrantBindingPolicy", b.product_code), product_code=b.product_code,
                   binding=b.binding, target=b.target, status=b.status)


@strawberry.type
class EffectivePolicy:
    aggregation_method: AggregationMethod
    aggregation_period: AggregationPeriod
    overage_chargeable: bool
    rating_delay_days: int
    commitment_rate: CommitmentRate


# ---------------------------------------------------------------------------------------------- rates
@strawberry.type
class RateTier:
    id: strawberry.ID
    lower_bound: DecimalScalar
    upper_bound: DecimalScalar | None
    adjustment_type: AdjustmentType
    adjustment_value: DecimalScalar
    flat_fee: DecimalScalar | None


@strawberry.type
class RateCardEntry:
    id: strawberry.ID
    rate: DecimalScalar
    tier_mode: TierMode | None
    tiers: list[RateTier]
    effective_from: DateTime
    effective_to: DateTime | None
    negotiable: bool
    status: RecordStatus
    resource_code: str | None
    product_code: str | None
    _record: strawberry.Private[c.RateCardEntry]

    @classmethod
    def from_domain(cls, e: c.RateCardEntry) -> "RateCardEntry":
        tiers = [RateTier(id=to_global_id("RateTier", f"{e.id}|{t.lower_bound}"), lower_bound=t.lower_bound,
                          upper_bound=t.upper_bound, adjustment_type=t.adjustment_type,
                          adjustment_value=t.adjustment_value, flat_fee=t.flat_fee) for t in e.tiers]
        return cls(id=to_global_id("RateCardEntry", e.id), rate=e.rate, tier_mode=e.tier_mode, tiers=tiers,
                   effective_from=e.effective_from, effective_to=e.effective_to, negotiable=e.negotiable,
                   status=e.status, resource_code=e.resource_code, product_code=e.product_code, _record=e)

    @strawberry.field
    async def rate_unit(self, info: Info) -> UnitOfMeasure:
        return await required_unit(info, self._record.rate_unit_code)

    @strawberry.field
    async def rate_card(self, info: Info) -> "RateCard | None":
        card = (await info.context.loaders.rate_cards()).get(self._record.rate_card_id)
        return RateCard.from_domain(card) if card else None


@strawberry.type
class RateCard:
    id: strawberry.ID
    name: str
    type: RateCardType
    effective_from: DateTime
    effective_to: DateTime | None
    status: RecordStatus
    _record: strawberry.Private[c.RateCard]

    @classmethod
    def from_domain(cls, card: c.RateCard) -> "RateCard":
        return cls(id=to_global_id("RateCard", card.id), name=card.name, type=card.type,
                   effective_from=card.effective_from, effective_to=card.effective_to, status=card.status,
                   _record=card)

    @strawberry.field
    async def entries(self, info: Info) -> list[RateCardEntry]:
        return [RateCardEntry.from_domain(e) for e in await info.context.loaders.rate_entries()
                if e.rate_card_id == self._record.id]


# ---------------------------------------------------------------------------------------------- products
@strawberry.type
class ProductUsageGrant:
    id: strawberry.ID
    type: GrantType
    quantity: DecimalScalar
    validity_term: int | None
    validity_unit: ValidityUnit
    effective_from: DateTime
    effective_to: DateTime | None
    drawdown_order: DrawdownOrder
    status: RecordStatus
    _record: strawberry.Private[c.ProductUsageGrant]

    @classmethod
    def from_domain(cls, g: c.ProductUsageGrant) -> "ProductUsageGrant":
        return cls(id=to_global_id("ProductUsageGrant", g.id), type=g.type, quantity=g.quantity,
                   validity_term=g.validity_term, validity_unit=g.validity_unit, effective_from=g.effective_from,
                   effective_to=g.effective_to, drawdown_order=g.drawdown_order, status=g.status, _record=g)

    @strawberry.field
    async def unit(self, info: Info) -> UnitOfMeasure:
        return await required_unit(info, self._record.unit_code)

    @strawberry.field
    async def refresh_policy(self, info: Info) -> GrantRefreshPolicy | None:
        return await policy_by_id(info, self._record.refresh_policy_id)  # type: ignore[return-value]

    @strawberry.field
    async def rollover_policy(self, info: Info) -> GrantRolloverPolicy | None:
        return await policy_by_id(info, self._record.rollover_policy_id)  # type: ignore[return-value]


@strawberry.type
class ProductUsageResource:
    id: strawberry.ID
    effective_from: DateTime
    effective_to: DateTime | None
    is_optional: bool
    status: RecordStatus
    _record: strawberry.Private[c.ProductUsageResource]
    _grants: strawberry.Private[list[c.ProductUsageGrant]]
    _policy: strawberry.Private[c.ProductResourcePolicy | None]

    @classmethod
    def from_domain(cls, pur: c.ProductUsageResource, grants: list[c.ProductUsageGrant],
                    policy: c.ProductResourcePolicy | None) -> "ProductUsageResource":
        return cls(id=to_global_id("ProductUsageResource", pur.id), effective_from=pur.effective_from,
                   effective_to=pur.effective_to, is_optional=pur.is_optional, status=pur.status, _record=pur,
                   _grants=grants, _policy=policy)

    @strawberry.field
    def product_code(self) -> str:
        return self._record.product_code

    @strawberry.field
    async def resource(self, info: Info) -> UsageResource:
        resource = await resource_by_code(info, self._record.resource_code)
        if resource is None:
            raise LookupError(f"resource {self._record.resource_code} referenced but missing")
        return resource

    @strawberry.field
    async def token_resource(self, info: Info) -> UsageResource | None:
        return await resource_by_code(info, self._record.token_resource_code)

    @strawberry.field
    def grants(self) -> list[ProductUsageGrant]:
        return [ProductUsageGrant.from_domain(g) for g in self._grants]

    @strawberry.field
    async def rates(self, info: Info) -> list[RateCardEntry]:
        """Rate card entries for this resource: the product's own, and those not tied to any product."""
        pur = self._record
        entries = [e for e in await info.context.loaders.rate_entries() if e.resource_code == pur.resource_code
                   and e.product_code in (None, pur.product_code)]
        entries.sort(key=lambda e: (e.effective_from, e.id))
        return [RateCardEntry.from_domain(e) for e in entries]

    @strawberry.field
    def product_policy(self) -> ProductResourcePolicy | None:
        return ProductResourcePolicy.from_domain(self._policy) if self._policy else None

    @strawberry.field
    async def effective_policy(self, info: Info) -> EffectivePolicy:
        """The product-resource override for each policy kind, else the resource's default, else the system's."""
        from core.policies import resolve

        resource_policy = await info.context.loaders.resource_policy.load(self._record.resource_code)
        policies = await info.context.loaders.policies()
        eff = resolve(self._policy.policies if self._policy else None,
                      resource_policy.policies if resource_policy else None, policies)
        return EffectivePolicy(aggregation_method=eff.aggregation_method, aggregation_period=eff.aggregation_period,
                               overage_chargeable=eff.overage_chargeable, rating_delay_days=eff.rating_delay_days,
                               commitment_rate=eff.commitment_rate)


@strawberry.type
class Product:
    id: strawberry.ID
    code: str
    name: str
    usage_model_type: UsageModelType
    status: RecordStatus

    @classmethod
    def from_domain(cls, p: c.Product) -> "Product":
        return cls(id=to_global_id("Product", p.code), code=p.code, name=p.name,
                   usage_model_type=p.usage_model_type, status=p.status)

    @strawberry.field
    async def usage_resources(self, info: Info) -> list[ProductUsageResource]:
        graph = await info.context.loaders.product_graph.load(self.code)
        if graph is None:
            return []
        return [ProductUsageResource.from_domain(pur, graph.grants.get(pur.id, []), graph.policies.get(pur.id))
                for pur in graph.purs]

    @strawberry.field
    async def binding_policy(self, info: Info) -> GrantBindingPolicy | None:
        graph = await info.context.loaders.product_graph.load(self.code)
        return GrantBindingPolicy.from_domain(graph.binding) if graph and graph.binding else None

