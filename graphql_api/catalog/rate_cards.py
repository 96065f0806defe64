"""Rate cards, their entries and the entries' tiers: inputs, queries and mutations.

Parse, call one catalog service method, map the result."""

import strawberry

from core import catalog as c
from core.rating.model import AdjustmentType as _AdjustmentType
from core.rating.model import TierMode as _TierMode
from graphql_api.catalog.calls import UNSET, changes_of, key_of, mutate, now, remove
from graphql_api.context import Info
from graphql_api.errors import mutation
from graphql_api.permissions import CanConfigure, CanRead
from graphql_api.scalars import DateTime
from graphql_api.scalars import Decimal as DecimalScalar
from graphql_api.types import catalog as t
from graphql_api.types.common import DeletePayload, Payload
from graphql_api.types.enums import (
    AdjustmentType,
    RateCardType,
    RecordStatus,
    TierMode,
)


@strawberry.input
class CreateRateCardInput:
    name: str
    type: RateCardType = c.RateCardType.BASE
    effective_from: DateTime | None = None
    effective_to: DateTime | None = None


@strawberry.input
class UpdateRateCardInput:
    id: strawberry.ID
    name: str | None = UNSET
    effective_from: DateTime | None = UNSET
    effective_to: DateTime | None = UNSET
    status: RecordStatus | None = UNSET


@strawberry.input
class RateTierInput:
    lower_bound: DecimalScalar
    adjustment_type: AdjustmentType
    adjustment_value: DecimalScalar
    upper_bound: DecimalScalar | None = None
    flat_fee: DecimalScalar | None = None

    def to_domain(self) -> c.RateTier:
        return c.RateTier(self.lower_bound, self.upper_bound, _AdjustmentType(self.adjustment_type),
                          self.adjustment_value, self.flat_fee)


@strawberry.input
class CreateRateCardEntryInput:
    rate_card_id: strawberry.ID
    rate: DecimalScalar
    rate_unit_code: str
    resource_code: str | None = None
    product_code: str | None = None
    effective_from: DateTime | None = None
    effective_to: DateTime | None = None
    tier_mode: TierMode | None = None
    tiers: list[RateTierInput] | None = None
    negotiable: bool = False


@strawberry.input
class UpdateRateCardEntryInput:
    id: strawberry.ID
    rate: DecimalScalar | None = UNSET
    rate_unit_code: str | None = UNSET
    effective_from: DateTime | None = UNSET
    effective_to: DateTime | None = UNSET
    tier_mode: TierMode | None = UNSET
    negotiable: bool | None = UNSET
    status: RecordStatus | None = UNSET

def tier_key(tier_id: str) -> tuple[str, str]:
    """(rate card entry id, lower bound as written) inside a RateTier id."""
    entry, _, lower = key_of(tier_id, "RateTier").rpartition("|")
    return entry, lower


@strawberry.type
class RateCardsQuery:
    @strawberry.field(permission_classes=[CanRead])
    async def rate_cards(self, info: Info) -> list[t.RateCard]:
        cards = (await info.context.loaders.rate_cards()).values()
        return [t.RateCard.from_domain(card) for card in sorted(cards, key=lambda k: (k.name, k.id))]


@strawberry.type
class RateCardsMutation:
    @mutation(permission_classes=[CanConfigure])
    async def create_rate_card(self, info: Info, input: CreateRateCardInput) -> Payload[t.RateCard]:
        return await mutate(info, lambda s: s.create_rate_card(input.name, input.type, input.effective_from,
                                                               input.effective_to, now()), t.RateCard.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def update_rate_card(self, info: Info, input: UpdateRateCardInput) -> Payload[t.RateCard]:
        changes = changes_of(input, "name", "effective_from", "effective_to", "status")
        return await mutate(info, lambda s: s.update(c.RateCard, key_of(input.id, "RateCard"), changes),
                            t.RateCard.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_rate_card(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.RateCard, key_of(id, "RateCard")), id)

    @mutation(permission_classes=[CanConfigure])
    async def create_rate_card_entry(self, info: Info, input: CreateRateCardEntryInput) -> Payload[t.RateCardEntry]:
        card = key_of(input.rate_card_id, "RateCard")
        mode = _TierMode(input.tier_mode) if input.tier_mode else None
        tiers = [tier.to_domain() for tier in input.tiers or []]
        return await mutate(info, lambda s: s.create_rate_card_entry(
            card, input.rate, input.rate_unit_code, input.resource_code, input.product_code, input.effective_from,
            input.effective_to, mode, tiers, input.negotiable), t.RateCardEntry.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def update_rate_card_entry(self, info: Info, input: UpdateRateCardEntryInput) -> Payload[t.RateCardEntry]:
        changes = changes_of(input, "rate", "rate_unit_code", "effective_from", "effective_to", "tier_mode",
                             "negotiable", "status")
        return await mutate(info, lambda s: s.update(c.RateCardEntry, key_of(input.id, "RateCardEntry"), changes),
                            t.RateCardEntry.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_rate_card_entry(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.RateCardEntry, key_of(id, "RateCardEntry")), id)

    @mutation(permission_classes=[CanConfigure], description="Add a tier to a DRAFT rate card entry.")
    async def create_rate_tier(self, info: Info, rate_card_entry_id: strawberry.ID,
                               input: RateTierInput) -> Payload[t.RateCardEntry]:
        entry = key_of(rate_card_entry_id, "RateCardEntry")
        return await mutate(info, lambda s: s.add_tier(entry, input.to_domain()), t.RateCardEntry.from_domain)

    @mutation(permission_classes=[CanConfigure], description="Replace one tier of a DRAFT entry.")
    async def update_rate_tier(self, info: Info, id: strawberry.ID, input: RateTierInput) -> Payload[t.RateCardEntry]:
        entry, lower = tier_key(id)
        return await mutate(info, lambda s: s.replace_tier(entry, lower, input.to_domain(), id),
                            t.RateCardEntry.from_domain)

    @mutation(permission_classes=[CanConfigure], description="Remove one tier of a DRAFT entry.")
    async def delete_rate_tier(self, info: Info, id: strawberry.ID) -> DeletePayload:
        entry, lower = tier_key(id)
        return await remove(info, lambda s: s.replace_tier(entry, lower, None, id), id)
