"""Accounts and subscriptions in the accounts table (key formats in ``infra.keys``).

An account's partition holds the account item and its subscriptions, so one Query reads an account with all of
its subscriptions (and, through them, the grants of every wallet they fill). A subscription is stored whole, with
its grant schedules snapshotted from the catalog when it was created. Creating a subscription is one transaction:
the account (created if new, otherwise left as it is), a guard item that makes the subscription's external id
unique per tenant, and the subscription.

The account item counts its subscriptions' changes (``subscriptions_version``, bumped in the same transaction as
every subscription write), so a reader that remembers an account's subscriptions can tell with one small
consistent read whether they are still current (``subscriptions_versions``: rating's warm state).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from core import subscription_changes as changes
from core.catalog import Policy, ProductUsageGrant, UsageResource
from core.errors import DomainError, ErrorCode
from core.money import fmt
from core.subscriptions import (
    Account,
    ProductOffer,
    Subscription,
    SubscriptionRequest,
    build_subscription,
    validate_request,
)
from infra import keys
from infra.catalog_repo import CatalogRepository
from infra.codec import decode, encode, from_iso, to_iso
from infra.dynamo_kit import (
    TransactionCancelled,
    backoff,
    batch_get,
    expression_values,
    from_attributes,
    key,
    query_all,
    to_attribute,
    to_attributes,
    transact_write,
)
from infra.table_repo import TableRepository

TRANSACTION_RETRIES = 5
SUBSCRIPTIONS_VERSION = "subscriptions_version"


def read_offer(catalog: CatalogRepository, product_code: str) -> ProductOffer:
    """The catalog records a subscription to ``product_code`` needs: four reads, whatever the product's size."""
    graph = catalog.product_graph(product_code)
    if graph is None:
        raise DomainError(ErrorCode.UNKNOWN_REFERENCE, f"product '{product_code}' does not exist", "productCode")
    resources = catalog.batch_get(UsageResource, [p.resource_code for p in graph.purs])
    _, units = catalog.units_and_classes()
    grants: list[ProductUsageGrant] = [g for gs in graph.grants.values() for g in gs]
    policy_ids = [pid for g in grants for pid in (g.refresh_policy_id, g.rollover_policy_id) if pid]
    policies = catalog.batch_get(Policy, policy_ids) if policy_ids else {}
    return ProductOffer(graph.product, graph.binding, list(graph.purs), dict(graph.grants), resources,
                        {u.unit_code: u for u in units}, policies)


class AccountsRepository(TableRepository):
    """Accounts and subscriptions of one tenant; remembers the accounts it read (one request or one batch)."""

    table_setting = "accounts_table"

    def __init__(self, tenant: str, client: Any | None = None, table: str | None = None):
        super().__init__(tenant, client, table)
        self._accounts: dict[str, Account | None] = {}

    # ------------------------------------------------------------------------------------------ reads
    def get(self, external_id: str, fresh: bool = False) -> Account | None:
        """The account with its subscriptions (one Query), or None."""
        if fresh or external_id not in self._accounts:
            self._accounts[external_id] = self._read(external_id)
        return self._accounts[external_id]

    def _read(self, external_id: str) -> Account | None:
        items = query_all(self.client, TableName=self.table, ConsistentRead=True,
                          KeyConditionExpression="pk = :pk",
                          ExpressionAttributeValues=expression_values(pk=keys.account_pk(self.tenant, external_id)))
        account: Account | None = None
        subscriptions: list[Subscription] = []
        for raw in items:
            item = from_attributes(raw)
            if item["sk"] == keys.ACCOUNT_SK:
                account = Account(item["external_id"], item.get("name"), from_iso(item["created_at"]))
            elif item["sk"].startswith(keys.SUBSCRIPTION_PREFIX):
                subscriptions.append(decode(Subscription, item["data"]))
        if account is None:
            return None
        subscriptions.sort(key=lambda s: (s.created_at, s.external_id))
        return Account(account.external_id, account.name, account.created_at, tuple(subscriptions))

    def subscriptions_versions(self, external_ids: Iterable[str]) -> dict[str, int | None]:
        """How many times each account's subscriptions were written (None: no such account): one consistent
        BatchGetItem of the account items (100 keys a call), their version attribute alone."""
        wanted = list(dict.fromkeys(external_ids))
        versions: dict[str, int | None] = dict.fromkeys(wanted)
        by_pk = {keys.account_pk(self.tenant, name): name for name in wanted}
        account_keys = [key(pk, keys.ACCOUNT_SK) for pk in by_pk]
        for item in batch_get(self.client, self.table, account_keys, ProjectionExpression="pk, #v",
                              ExpressionAttributeNames={"#v": SUBSCRIPTIONS_VERSION}):
            plain = from_attributes(item)
            versions[by_pk[plain["pk"]]] = int(plain.get(SUBSCRIPTIONS_VERSION, 0))
        return versions

    # ------------------------------------------------------------------------------------------ writes
    def create_subscription(self, request: SubscriptionRequest, catalog: CatalogRepository,
                            now: datetime) -> Subscription:
        """Create the subscription (and its account when new); typed errors for every bad input."""
        validate_request(request)
        subscription = build_subscription(request, read_offer(catalog, request.product_code), now)
        return self.add(request, subscription, now)

    def add(self, request: SubscriptionRequest, subscription: Subscription, now: datetime) -> Subscription:
        """Store a built subscription, creating its account when new: one transaction."""
        items = self._creation_items(request, subscription, now)
        _, guard, record = items
        for attempt in range(TRANSACTION_RETRIES):
            try:
                transact_write(self.client, items)
                break
            except TransactionCancelled as exc:
                if any(i is guard or i is record for i in exc.failed("ConditionalCheckFailed")):
                    raise DomainError(ErrorCode.DUPLICATE_CODE,
                                      f"subscription '{request.external_id}' already exists", "externalId") from None
                if "TransactionConflict" not in exc.codes or attempt == TRANSACTION_RETRIES - 1:
                    raise
                backoff(attempt)
        self._accounts.pop(request.account_external_id, None)
        return subscription

    # ------------------------------------------------------------------------------------------ changes
    def subscription(self, external_id: str) -> Subscription | None:
        """A subscription by its external id, read fresh: its id guard names the account (two reads)."""
        guard = self.client.get_item(
            TableName=self.table, ConsistentRead=True,
            Key=key(keys.subscription_guard_pk(self.tenant, external_id), keys.SUBSCRIPTION_GUARD_SK)).get("Item")
        if guard is None:
            return None
        account = self.get(from_attributes(guard)["account_external_id"], fresh=True)
        return account.subscription(external_id) if account else None

    def change_subscription(self, external_id: str, change: Callable[[Subscription], Subscription],
                            check: Callable[[Subscription, Subscription], None] | None = None) -> Subscription:
        """Apply a pure change (``core.subscription_changes``) and store it, conditioned on the version it was read
        at; a concurrent change makes it read and apply again, so changes apply one after the other. ``check``
        may refuse the changed subscription (raising a DomainError) before it is written."""
        for _ in range(TRANSACTION_RETRIES):
            current = self.subscription(external_id)
            if current is None:
                raise DomainError(ErrorCode.NOT_FOUND, f"subscription '{external_id}' does not exist", "externalId")
            changed = change(current)
            if changed is current:
                return current
            if check is not None:
                check(current, changed)
            if current.version == 0:  # as created: items written before versions had none
                condition = "attribute_exists(sk) AND (attribute_not_exists(#v) OR #v = :old)"
            else:
                condition = "#v = :old"
            account_pk = keys.account_pk(self.tenant, current.account_external_id)
            put = {"Put": {
                "TableName": self.table, "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": expression_values(old=current.version),
                "Item": to_attributes({"pk": account_pk, "sk": keys.subscription_sk(external_id),
                                       "kind": "Subscription", "version": changed.version, "data": encode(changed)})}}
            try:  # the account's subscriptions version counts the change in the same transaction
                transact_write(self.client, [put, _bump(self.table, account_pk)])
            except TransactionCancelled:
                continue  # changed underneath (or a concurrent transaction): read and apply again
            self._accounts.pop(current.account_external_id, None)
            return changed
        raise DomainError(ErrorCode.CONFLICT, f"subscription '{external_id}' kept changing; try again", "externalId")

    def amend_subscription(self, external_id: str, quantity: Decimal, effective_date: datetime,
                           now: datetime) -> Subscription:
        return self.change_subscription(external_id, lambda sub: changes.amend(sub, quantity, effective_date, now))

    def cancel_subscription(self, external_id: str, end_date: datetime, now: datetime,
                            debited_since: Callable[[str, datetime, str], Decimal]) -> Subscription:
        """End the subscription; refused when usage at or after ``end_date`` was already rated against it (void
        that usage first): a cancellation never touches consumed usage. ``debited_since(wallet, at, prefix)`` is
        what the wallet's ledger holds of debits effective at or after ``at`` by buckets whose ids start with
        ``prefix`` (``WalletsRepository.debited_since``)."""

        def nothing_rated_after(before: Subscription, after: Subscription) -> None:
            assert after.end_date is not None
            for subscribed in before.resources:
                rated = debited_since(before.wallet_id(subscribed.resource_code), after.end_date,
                                      f"{before.external_id}/")
                if rated > 0:
                    raise DomainError(ErrorCode.CONFLICT, f"{fmt(rated)} of {subscribed.resource_code} used at or "
                                      f"after {after.end_date.isoformat()} was already rated against subscription "
                                      f"'{before.external_id}'; void that usage first, or cancel later", "endDate")

        return self.change_subscription(external_id, lambda sub: changes.cancel(sub, end_date, now),
                                        nothing_rated_after)

    def renew_subscription(self, external_id: str, now: datetime, end_date: datetime | None = None,
                           terms: int | None = None) -> Subscription:
        return self.change_subscription(external_id, lambda sub: changes.renew(sub, now, end_date, terms))

    def _creation_items(self, request: SubscriptionRequest, subscription: Subscription,
                        now: datetime) -> list[dict[str, Any]]:
        account_pk = keys.account_pk(self.tenant, request.account_external_id)
        names = {"#id": "external_id", "#created": "created_at", "#kind": "kind"}
        values = expression_values(id=request.account_external_id, created=to_iso(now), kind="Account")
        names["#sv"] = SUBSCRIPTIONS_VERSION
        values[":one"] = to_attribute(1)
        update = "SET #id = :id, #kind = :kind, #created = if_not_exists(#created, :created)"
        if request.account_name and request.account_name.strip():
            names["#name"] = "name"
            values[":name"] = to_attribute(request.account_name.strip())
            update += ", #name = if_not_exists(#name, :name)"
        account = {"Update": {"TableName": self.table,
                              "Key": key(account_pk, keys.ACCOUNT_SK),
                              "UpdateExpression": update + " ADD #sv :one", "ExpressionAttributeNames": names,
                              "ExpressionAttributeValues": values}}
        guard = {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
                         "Item": to_attributes({
                             "pk": keys.subscription_guard_pk(self.tenant, subscription.external_id),
                             "sk": keys.SUBSCRIPTION_GUARD_SK, "kind": "SubscriptionId",
                             "account_external_id": subscription.account_external_id})}}
        record = {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(sk)",
                          "Item": to_attributes({
                              "pk": account_pk, "sk": keys.subscription_sk(subscription.external_id),
                              "kind": "Subscription", "data": encode(subscription)})}}
        return [account, guard, record]


def _bump(table: str, account_pk: str) -> dict[str, Any]:
    """The transaction item that counts one more change of the account's subscriptions (the account exists)."""
    return {"Update": {"TableName": table, "Key": key(account_pk, keys.ACCOUNT_SK),
                       "ConditionExpression": "attribute_exists(pk)", "UpdateExpression": "ADD #sv :one",
                       "ExpressionAttributeNames": {"#sv": SUBSCRIPTIONS_VERSION},
                       "ExpressionAttributeValues": expression_values(one=1)}}
