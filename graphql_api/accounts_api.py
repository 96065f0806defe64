"""Accounts and subscriptions: ``account(externalId)`` and ``createSubscription``; parse, call one function, map."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import strawberry

from core import subscriptions as s
from core.periods import PeriodUnit as _PeriodUnit
from graphql_api.context import Info
from graphql_api.errors import mutation
from graphql_api.permissions import CanConfigure, CanRead
from graphql_api.scalars import DateTime
from graphql_api.scalars import Decimal as DecimalScalar
from graphql_api.types import accounts as t
from graphql_api.types.common import Payload
from graphql_api.types.enums import PeriodUnit


@strawberry.input
class CreateSubscriptionInput:
    external_id: str
    account_external_id: str
    product_code: str
    start_date: DateTime
    account_name: str | None = None
    quantity: DecimalScalar = Decimal(1)
    end_date: DateTime | None = None
    billing_term: int = 1
    billing_term_unit: PeriodUnit = _PeriodUnit.MONTH
    billing_day_of_month: int | None = strawberry.field(
        default=None, description="1–31, clamped to short months' last day; default: the start date's day.")
    binding_target: t.BindingTarget | None = strawberry.field(
        default=None, description="SELF or ACCOUNT. Omitted: the product's ACTIVE grant binding policy decides "
                                  "(TARGET/ACCOUNT → ACCOUNT), else SELF.")

    def to_domain(self) -> s.SubscriptionRequest:
        return s.SubscriptionRequest(
            external_id=self.external_id, account_external_id=self.account_external_id,
            product_code=self.product_code, start_date=self.start_date, quantity=self.quantity,
            end_date=self.end_date, account_name=self.account_name, billing_term=self.billing_term,
            billing_term_unit=_PeriodUnit(self.billing_term_unit), billing_day_of_month=self.billing_day_of_month,
            binding_target=s.BindingTarget(self.binding_target) if self.binding_target else None)


@strawberry.input(description="A new quantity from a date: the share added or removed for the rest of the current "
                              "period is prorated by days (never more than paid for); full shares from the next.")
class AmendSubscriptionInput:
    external_id: str
    quantity: DecimalScalar
    effective_date: DateTime


@strawberry.input(description="End the subscription: its buckets end then, later usage is WARNING_UNRATED.")
class CancelSubscriptionInput:
    external_id: str
    end_date: DateTime


@strawberry.input(description="Extend the term to endDate, or by a number of billing terms (give one of them).")
class RenewSubscriptionInput:
    external_id: str
    end_date: DateTime | None = None
    terms: int | None = None


@strawberry.type
class AccountsQuery:
    @strawberry.field(permission_classes=[CanRead])
    async def account(self, info: Info, external_id: str) -> t.Account | None:
        account = await asyncio.to_thread(info.context.accounts.get, external_id)
        return t.Account.from_domain(account) if account else None

    @strawberry.field(permission_classes=[CanRead], description="A subscription by external id, with its history.")
    async def subscription(self, info: Info, external_id: str) -> t.Subscription | None:
        sub = await asyncio.to_thread(info.context.accounts.subscription, external_id)
        return t.Subscription.from_domain(sub) if sub else None


@strawberry.type
class AccountsMutation:
    @mutation(permission_classes=[CanConfigure],
                         description="Subscribe an account (created if new) to an ACTIVE product.")
    async def create_subscription(self, info: Info, input: CreateSubscriptionInput) -> Payload[t.Subscription]:
        ctx = info.context
        sub = await asyncio.to_thread(ctx.accounts.create_subscription, input.to_domain(), ctx.catalog,
                                      datetime.now(UTC))
        return Payload(record=t.Subscription.from_domain(sub))

    @mutation(permission_classes=[CanConfigure],
                         description="Change a subscription's quantity from an effective date (prorated for the "
                                     "rest of the period; consumed usage is never taken back).")
    async def amend_subscription(self, info: Info, input: AmendSubscriptionInput) -> Payload[t.Subscription]:
        return await _changed(info, info.context.accounts.amend_subscription, input.external_id, input.quantity,
                              input.effective_date, datetime.now(UTC))

    @mutation(permission_classes=[CanConfigure],
                         description="End a subscription at endDate (after its start, not after its current end).")
    async def cancel_subscription(self, info: Info, input: CancelSubscriptionInput) -> Payload[t.Subscription]:
        return await _changed(info, info.context.accounts.cancel_subscription, input.external_id, input.end_date,
                              datetime.now(UTC), info.context.wallets.debited_since)

    @mutation(permission_classes=[CanConfigure],
                         description="Extend a subscription's term with fresh grants (a subscription without an end "
                                     "date runs on by itself).")
    async def renew_subscription(self, info: Info, input: RenewSubscriptionInput) -> Payload[t.Subscription]:
        return await _changed(info, info.context.accounts.renew_subscription, input.external_id, datetime.now(UTC),
                              input.end_date, input.terms)


async def _changed(info: Info, change: Any, *args: Any) -> Payload[t.Subscription]:
    """Run one subscription change in a thread."""
    sub = await asyncio.to_thread(change, *args)
    return Payload(record=t.Subscription.from_domain(sub))
