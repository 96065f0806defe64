"""What rating reads of the catalog and of accounts: the ACTIVE catalog a batch needs (``core.processing``'s
``CatalogView``, every product-usage-resource with its effective policy) and each account's subscriptions.

Used by rating (``infra.rating_repo``) and by the PERIOD_CLOSED gate of ingestion (``infra.period_gate``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core.catalog import (
    Product,
    ProductResourcePolicy,
    ProductUsageGrant,
    ProductUsageResource,
    RecordStatus,
    ResourcePolicy,
    UsageResource,
)
from core.policies import resolve
from core.processing import CatalogView
from core.subscriptions import Subscription
from core.usage import UsageRecord
from infra.accounts_repo import AccountsRepository
from infra.catalog_repo import CatalogRepository

READ_THREADS = 8


def catalog_view(catalog: CatalogRepository, product_codes: Iterable[str], resource_codes: Iterable[str]
                 ) -> CatalogView:
    """The ACTIVE catalog rating needs for these products and resources, with every PUR's effective policy."""
    classes, units = catalog.units_and_classes()
    cards, entries = catalog.rate_cards()
    products: dict[str, Product] = {}
    purs: dict[str, tuple[ProductUsageResource, ...]] = {}
    grants: dict[str, tuple[ProductUsageGrant, ...]] = {}
    product_policies: dict[str, ProductResourcePolicy] = {}
    for code in dict.fromkeys(product_codes):
        graph = catalog.product_graph(code)
        if graph is None:
            continue
        products[code] = graph.product
        purs[code] = tuple(graph.purs)
        grants.update({k: tuple(v) for k, v in graph.grants.items()})
        product_policies.update(graph.policies)
    wanted = set(resource_codes) | {p.resource_code for ps in purs.values() for p in ps}
    resources = catalog.batch_get(UsageResource, sorted(wanted))
    tokens = {r.token_resource_code for r in resources.values() if r.token_resource_code}
    tokens |= {p.token_resource_code for ps in purs.values() for p in ps if p.token_resource_code}
    if tokens - resources.keys():
        resources.update(catalog.batch_get(UsageResource, sorted(tokens - resources.keys())))
    resource_policies = catalog.batch_get(ResourcePolicy, sorted(resources))
    policies = {p.id: p for p in catalog.policies()}
    effective = {}
    for pur in (p for ps in purs.values() for p in ps):
        product_level = product_policies.get(pur.id)
        resource_level = resource_policies.get(pur.resource_code)
        effective[pur.id] = resolve(_active_set(product_level), _active_set(resource_level), policies,
                                    active_only=True)
    return CatalogView(resources=resources, units={u.unit_code: u for u in units},
                       classes={c.code: c for c in classes}, products=products, purs=purs, grants=grants,
                       policies=effective, rate_cards={c.id: c for c in cards}, rate_entries=tuple(entries))


def _active_set(level: ProductResourcePolicy | ResourcePolicy | None) -> Any:
    return level.policies if level is not None and level.status == RecordStatus.ACTIVE else None


def read_accounts(tenant: str, names: Sequence[str], client: Any | None = None
                  ) -> dict[str, tuple[Subscription, ...] | None]:
    """Each account's subscriptions (None: no such account), one Query per account, in parallel."""
    if not names:
        return {}
    accounts_repo = AccountsRepository(tenant, client)
    with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(names))) as pool:
        accounts = dict(zip(names, pool.map(accounts_repo.get, names), strict=True))
    return {name: account.subscriptions if account is not None else None for name, account in accounts.items()}


def read_subscriptions_and_catalog(tenant: str, records: Sequence[UsageRecord], client: Any | None = None
                                   ) -> tuple[dict[str, tuple[Subscription, ...]], CatalogView]:
    """The records' accounts' subscriptions (one Query per account, in parallel) and the catalog they need."""
    accounts = read_accounts(tenant, sorted({r.account_external_id for r in records}), client)
    subscriptions = {name: subs for name, subs in accounts.items() if subs is not None}
    products = {s.product_code for subs in subscriptions.values() for s in subs}
    return subscriptions, catalog_view(CatalogRepository(tenant), products, {r.resource_code for r in records})
