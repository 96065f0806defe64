"""Policies and the links that point resources, PURs and products at them: inputs, queries and mutations.

Parse, call one catalog service method, map the result."""

import strawberry

from core import catalog as c
from graphql_api.catalog.calls import UNSET, changes_of, given, key_of, mutate, policy_key, remove
from graphql_api.context import Info
from graphql_api.errors import mutation
from graphql_api.permissions import CanConfigure, CanRead
from graphql_api.scalars import Decimal as DecimalScalar
from graphql_api.types import catalog as t
from graphql_api.types.common import DeletePayload, Payload
from graphql_api.types.enums import (
    AggregationMethod,
    AggregationPeriod,
    BindingTargetType,
    BindingType,
    CommitmentRate,
    PeriodUnit,
    PolicyKind,
    RecordStatus,
)

AnyPolicy = t.PolicyRecord


@strawberry.input
class CreatePolicyInput:
    """One input for every policy kind; the kind decides which settings are required."""

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
    maximum_rollover_quantity: DecimalScalar | None = None
    commitment_rate: CommitmentRate | None = None


POLICY_SETTINGS = ("aggregation_method", "aggregation_period", "rating_period", "delay", "delay_unit", "chargeable",
                   "refresh_allowed", "refresh_frequency", "refresh_unit", "rollover_allowed", "rollover_can_expire",
                   "maximum_rollover_count", "maximum_rollover_quantity", "commitment_rate")


@strawberry.input
class UpdatePolicyInput:
    id: strawberry.ID
    name: str | None = UNSET
    aggregation_method: AggregationMethod | None = UNSET
    aggregation_period: AggregationPeriod | None = UNSET
    rating_period: AggregationPeriod | None = UNSET
    delay: int | None = UNSET
    delay_unit: str | None = UNSET
    chargeable: bool | None = UNSET
    refresh_allowed: bool | None = UNSET
    refresh_frequency: int | None = UNSET
    refresh_unit: PeriodUnit | None = UNSET
    rollover_allowed: bool | None = UNSET
    rollover_can_expire: bool | None = UNSET
    maximum_rollover_count: int | None = UNSET
    maximum_rollover_quantity: DecimalScalar | None = UNSET
    commitment_rate: CommitmentRate | None = UNSET
    status: RecordStatus | None = UNSET


@strawberry.input
class PolicyLinksInput:
    aggregation_policy_id: strawberry.ID | None = None
    rating_frequency_policy_id: strawberry.ID | None = None
    overage_policy_id: strawberry.ID | None = None
    commitment_policy_id: strawberry.ID | None = None


@strawberry.input
class ResourcePolicyInput:
    resource_code: str
    policies: PolicyLinksInput
    status: RecordStatus | None = UNSET


@strawberry.input
class ProductResourcePolicyInput:
    product_usage_resource_id: strawberry.ID
    policies: PolicyLinksInput
    status: RecordStatus | None = UNSET


@strawberry.input
class GrantBindingPolicyInput:
    product_code: str
    binding: BindingType = c.BindingType.SELF
    target: BindingTargetType | None = None
    status: RecordStatus | None = UNSET

def policy_set(links: PolicyLinksInput) -> c.PolicySet:
    return c.PolicySet(policy_key(links.aggregation_policy_id), policy_key(links.rating_frequency_policy_id),
                       policy_key(links.overage_policy_id), policy_key(links.commitment_policy_id))


@strawberry.type
class PoliciesQuery:
    @strawberry.field(permission_classes=[CanRead])
    async def policies(self, info: Info, kind: PolicyKind | None = None) -> list[AnyPolicy]:
        found = (await info.context.loaders.policies()).values()
        return [t.policy_from_domain(p) for p in sorted(found, key=lambda p: (p.kind, p.name, p.id))
                if kind is None or p.kind == kind]


@strawberry.type
class PoliciesMutation:
    @mutation(permission_classes=[CanConfigure])
    async def create_policy(self, info: Info, input: CreatePolicyInput) -> Payload[AnyPolicy]:
        settings = {n: getattr(input, n) for n in POLICY_SETTINGS}
        return await mutate(info, lambda s: s.create_policy(input.kind, input.name, **settings),
                            t.policy_from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def update_policy(self, info: Info, input: UpdatePolicyInput) -> Payload[AnyPolicy]:
        changes = changes_of(input, "name", "status", *POLICY_SETTINGS)
        return await mutate(info, lambda s: s.update(c.Policy, key_of(input.id, "Policy"), changes),
                            t.policy_from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_policy(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.Policy, key_of(id, "Policy")), id)

    @mutation(permission_classes=[CanConfigure], description="Create or change a resource's policies.")
    async def set_resource_policy(self, info: Info, input: ResourcePolicyInput) -> Payload[t.ResourcePolicy]:
        policies, status = policy_set(input.policies), given(input.status)
        return await mutate(info, lambda s: s.set_resource_policy(input.resource_code, policies, status),
                            t.ResourcePolicy.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_resource_policy(self, info: Info, resource_code: str) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.ResourcePolicy, resource_code),
                            t.to_global_id("ResourcePolicy", resource_code))

    @mutation(permission_classes=[CanConfigure],
                         description="Create or change a product-resource policy (overrides the resource's).")
    async def set_product_resource_policy(self, info: Info, input: ProductResourcePolicyInput
                                          ) -> Payload[t.ProductResourcePolicy]:
        pur = key_of(input.product_usage_resource_id, "ProductUsageResource")
        policies, status = policy_set(input.policies), given(input.status)
        return await mutate(info, lambda s: s.set_product_resource_policy(pur, policies, status),
                            t.ProductResourcePolicy.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_product_resource_policy(self, info: Info, product_usage_resource_id: strawberry.ID
                                             ) -> DeletePayload:
        key = key_of(product_usage_resource_id, "ProductUsageResource")
        return await remove(info, lambda s: s.delete(c.ProductResourcePolicy, key),
                            t.to_global_id("ProductResourcePolicy", key))

    @mutation(permission_classes=[CanConfigure])
    async def set_grant_binding_policy(self, info: Info, input: GrantBindingPolicyInput
                                       ) -> Payload[t.GrantBindingPolicy]:
        return await mutate(info, lambda s: s.set_grant_binding_policy(
            input.product_code, input.binding, input.target, given(input.status)), t.GrantBindingPolicy.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_grant_binding_policy(self, info: Info, product_code: str) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.GrantBindingPolicy, product_code),
                            t.to_global_id("GrantBindingPolicy", product_code))
