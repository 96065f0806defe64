"""GraphQL types of accounts, subscriptions and wallets, built ``from_domain``; nesting resolves through the
request's repositories (one Query per account, two per wallet)."""

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from core import subscriptions as s
from core import wallets as w
from core.grants import BucketState
from core.money import normalize_quantity
from graphql_api.context import Info
from graphql_api.ids import to_global_id
from graphql_api.scalars import DateTime
from graphql_api.scalars import Decimal as DecimalScalar
from graphql_api.types.catalog import Product, UnitOfMeasure, UsageResource, required_unit, resource_by_code
from graphql_api.types.common import Connection, connection, decode_cursor, page_size
from graphql_api.types.enums import BindingTarget, BucketSource, LedgerEntryType, PeriodUnit, SubscriptionChangeKind
from graphql_api.types.summaries import UsageSummary, account_summaries
from graphql_api.types.usage import UsageRecord, UsageStatus, account_usage_records

if TYPE_CHECKING:
    from infra.wallets_repo import WalletView



@strawberry.type(description="One change of one bucket's balance; quantity is signed (credits +, debits −).")
class LedgerEntry:
    id: strawberry.ID
    type: LedgerEntryType
    bucket_id: strawberry.ID
    quantity: DecimalScalar
    opening_balance: DecimalScalar
    closing_balance: DecimalScalar
    effective_at: DateTime
    recorded_at: DateTime | None = strawberry.field(
        description="When a debit or reversal was booked; null for lifecycle entries, which are derived.")
    usage_record_id: str | None
    summary_id: str | None

    @classmethod
    def from_domain(cls, wallet_id: str, line: w.LedgerLine) -> "LedgerEntry":
        return cls(id=to_global_id("LedgerEntry", f"{wallet_id}#{line.key}"), type=line.type,
                   bucket_id=bucket_global_id(wallet_id, line.bucket_id), quantity=normalize_quantity(line.quantity),
                   opening_balance=normalize_quantity(line.opening), closing_balance=normalize_quantity(line.closing),
                   effective_at=line.at, recorded_at=line.recorded_at, usage_record_id=line.usage_record_id,
                   summary_id=line.summary_id)


def bucket_global_id(wallet_id: str, bucket_id: str) -> strawberry.ID:
    return to_global_id("GrantBucket", f"{wallet_id}#{bucket_id}")


@strawberry.type
class GrantBucket:
    id: strawberry.ID
    source: BucketSource
    granted_quantity: DecimalScalar
    balance: DecimalScalar
    debited_quantity: DecimalScalar
    expired_quantity: DecimalScalar
    rolled_over_quantity: DecimalScalar
    effective_from: DateTime
    effective_to: DateTime | None
    completed_rollovers: int
    subscription_external_id: str | None

    @classmethod
    def from_domain(cls, wallet: w.WalletRef, b: BucketState) -> "GrantBucket":
        grant = wallet.grant_of(b.id)
        return cls(id=bucket_global_id(wallet.id, b.id), source=b.source,
                   granted_quantity=normalize_quantity(b.granted), balance=normalize_quantity(b.balance),
                   debited_quantity=normalize_quantity(b.debited), expired_quantity=normalize_quantity(b.expired),
                   rolled_over_quantity=normalize_quantity(b.rolled_out), effective_from=b.effective_from,
                   effective_to=b.effective_to, completed_rollovers=b.completed_rollovers,
                   subscription_external_id=grant.subscription_external_id if grant else None)


@strawberry.type(description="One binding target × one resource: the total balance as of a time.")
class Wallet:
    id: strawberry.ID
    binding_target: str = strawberry.field(description="SUBSCRIPTION:{externalId} or ACCOUNT:{externalId}")
    balance: DecimalScalar
    as_of: DateTime
    _view: strawberry.Private["WalletView"]

    @classmethod
    def from_domain(cls, view: "WalletView") -> "Wallet":
        return cls(id=to_global_id("Wallet", view.wallet.id), binding_target=view.wallet.owner,
                   balance=normalize_quantity(view.balance.balance), as_of=view.balance.as_of, _view=view)

    @strawberry.field
    async def resource(self, info: Info) -> UsageResource:
        resource = await resource_by_code(info, self._view.wallet.resource_code)
        if resource is None:
            raise LookupError(f"resource {self._view.wallet.resource_code} referenced but missing")
        return resource

    @strawberry.field
    async def unit(self, info: Info) -> UnitOfMeasure:
        return await required_unit(info, self._view.wallet.unit_code)

    @strawberry.field(description="The buckets effective at asOf; with includeEnded, every bucket started by then.")
    def buckets(self, include_ended: bool = False) -> list[GrantBucket]:
        balance = self._view.balance
        chosen = balance.buckets if include_ended else balance.effective
        return [GrantBucket.from_domain(self._view.wallet, b) for b in chosen]

    @strawberry.field(description="The ledger up to asOf in effective-time order: lifecycle entries and debits.")
    async def entries(self, info: Info, first: int | None = 20, after: str | None = None) -> Connection[LedgerEntry]:
        size = page_size(first)
        cursor = decode_cursor(after)
        lines, more = await asyncio.to_thread(info.context.wallets.ledger_page, self._view, size, cursor)
        return connection([LedgerEntry.from_domain(self._view.wallet.id, line) for line in lines],
                          [line.key for line in lines], more)


@strawberry.type(description="One change of a subscription: the quantity or the end date, from a date.")
class SubscriptionChange:
    kind: SubscriptionChangeKind
    effective_date: DateTime = strawberry.field(
        description="From when it applies: the amendment's date, the new end (cancel) or the old end (renewal).")
    quantity_before: DecimalScalar
    quantity_after: DecimalScalar
    end_date_before: DateTime | None
    end_date_after: DateTime | None
    created_at: DateTime
    version: int = strawberry.field(description="The subscription version this change produced.")

    @classmethod
    def from_domain(cls, c: s.SubscriptionChange) -> "SubscriptionChange":
        return cls(kind=c.kind, effective_date=c.effective_date, quantity_before=normalize_quantity(c.quantity_before),
                   quantity_after=normalize_quantity(c.quantity_after), end_date_before=c.end_date_before,
                   end_date_after=c.end_date_after, created_at=c.created_at, version=c.version)


@strawberry.type
class Subscription:
    id: strawberry.ID
    external_id: str
    account_external_id: str
    product_code: str
    quantity: DecimalScalar
    start_date: DateTime
    end_date: DateTime | None
    billing_term: int
    billing_term_unit: PeriodUnit
    billing_day_of_month: int = strawberry.field(description="The day of month billing periods start on.")
    binding_target: BindingTarget
    wallet_owner: str = strawberry.field(description="The binding target its wallets belong to.")
    created_at: DateTime
    resource_codes: list[str]
    version: int = strawberry.field(description="Incremented by every change; changes are conditioned on it.")
    changes: list[SubscriptionChange] = strawberry.field(description="Its history of changes, oldest first.")

    @classmethod
    def from_domain(cls, sub: s.Subscription) -> "Subscription":
        return cls(id=to_global_id("Subscription", sub.external_id), external_id=sub.external_id,
                   account_external_id=sub.account_external_id, product_code=sub.product_code,
                   quantity=normalize_quantity(sub.quantity), start_date=sub.start_date, end_date=sub.end_date,
                   billing_term=sub.billing_term, billing_term_unit=sub.billing_term_unit,
                   billing_day_of_month=sub.anchor_day, binding_target=sub.binding_target,
                   wallet_owner=sub.wallet_owner, created_at=sub.created_at,
                   resource_codes=[r.resource_code for r in sub.resources], version=sub.version,
                   changes=[SubscriptionChange.from_domain(c) for c in sub.changes])

    @strawberry.field
    async def product(self, info: Info) -> Product | None:
        graph = await info.context.loaders.product_graph.load(self.product_code)
        return Product.from_domain(graph.product) if graph else None

    @strawberry.field
    async def account(self, info: Info) -> "Account | None":
        account = await asyncio.to_thread(info.context.accounts.get, self.account_external_id)
        return Account.from_domain(account) if account else None


@strawberry.type
class Account:
    id: strawberry.ID
    external_id: str
    name: str | None
    created_at: DateTime
    _record: strawberry.Private[s.Account]

    @classmethod
    def from_domain(cls, account: s.Account) -> "Account":
        return cls(id=to_global_id("Account", account.external_id), external_id=account.external_id,
                   name=account.name, created_at=account.created_at, _record=account)

    @strawberry.field
    def subscriptions(self) -> list[Subscription]:
        return [Subscription.from_domain(sub) for sub in self._record.subscriptions]

    @strawberry.field(description="Every wallet the account's subscriptions fill, as of asOf (default: now).")
    async def wallets(self, info: Info, as_of: DateTime | None = None) -> list[Wallet]:
        moment = as_of or datetime.now(UTC)
        views = await asyncio.to_thread(info.context.wallets.wallets, self.external_id, moment)
        return [Wallet.from_domain(view) for view in views]

    # ---- usage (issues 5–7) ---------------------------------------------------------------------------------
    # Account.usageSummaries and Account.usageRecords are added HERE by the usage and summary engineers:
    # resolvers that read the account's usage through their own repositories, keyed by self.external_id.
    @strawberry.field(description="The account's usage summaries, by resource then period; from/to select the "
                                  "periods that start in [from, to).")
    async def usage_summaries(
            self, info: Info, resource_code: str | None = None,
            from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,
            to: DateTime | None = None, first: int | None = 20,
            after: str | None = None) -> Connection[UsageSummary]:
        return await account_summaries(info, self.external_id, resource_code, from_, to, first, after)

    @strawberry.field(description="The account's usage records, newest start first (first ≤ 1,000).")
    async def usage_records(self, info: Info, status: UsageStatus | None = None,
                            resource_code: str | None = None, first: int | None = 20,
                            after: str | None = None) -> Connection[UsageRecord]:
        return await account_usage_records(info, self.external_id, status, resource_code, first, after)

    # ---- end of usage fields ----------------------------------------------------------------------------------
