"""Per-request DataLoaders over the catalog: each nesting level of a query costs one batched DynamoDB call.

Small, tenant-wide reference sets (units and classes, rate cards and entries, policies) are read with one Query
each, at most once per request; products come with their whole nesting from one Query (see infra/README.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from core.catalog import (
    Policy,
    RateCard,
    RateCardEntry,
    ResourcePolicy,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageResource,
)
from infra.catalog_repo import CatalogRepository, ProductGraph

T = TypeVar("T")


class Once:
    """An awaitable computed at most once per request, shared by every resolver that awaits it."""

    def __init__(self, compute: Callable[[], Any]):
        self._compute = compute
        self._task: asyncio.Future[Any] | None = None

    def get(self) -> Awaitable[Any]:
        if self._task is None:
            self._task = asyncio.ensure_future(asyncio.to_thread(self._compute))
        return self._task


class CatalogLoaders:
    def __init__(self, repo: CatalogRepository):
        self.repo = repo
        self.product_graph: DataLoader[str, ProductGraph | None] = DataLoader(self._graphs)
        self.resource: DataLoader[str, UsageResource | None] = DataLoader(self._resources)
        self.resource_policy: DataLoader[str, ResourcePolicy | None] = DataLoader(self._resource_policies)
        self._uom = Once(self._read_uom)
        self._rates = Once(self._read_rates)
        self._policies = Once(lambda: {p.id: p for p in repo.policies()})

    def prime_graphs(self, graphs: Sequence[ProductGraph]) -> None:
        for graph in graphs:
            self.product_graph.prime(graph.product.code, graph)

    async def _graphs(self, codes: list[str]) -> list[ProductGraph | None]:
        return await asyncio.to_thread(lambda: [self.repo.product_graph(c) for c in codes])

    async def _resources(self, codes: list[str]) -> list[UsageResource | None]:
        # one BatchGetItem for the resources and their resource policies together
        found = await asyncio.to_thread(self.repo.batch_get_mixed, [(UsageResource, c) for c in codes] +
                                        [(ResourcePolicy, c) for c in codes])
        for code in codes:
            self.resource_policy.prime(code, found.get((ResourcePolicy, code)))
        return [found.get((UsageResource, c)) for c in codes]

    async def _resource_policies(self, codes: list[str]) -> list[ResourcePolicy | None]:
        found = await asyncio.to_thread(self.repo.batch_get, ResourcePolicy, codes)
        return [found.get(c) for c in codes]

    def _read_uom(self) -> tuple[dict[str, UnitOfMeasureClass], dict[str, UnitOfMeasure]]:
        classes, units = self.repo.units_and_classes()
        return {c.code: c for c in classes}, {u.unit_code: u for u in units}

    def _read_rates(self) -> tuple[dict[str, RateCard], list[RateCardEntry]]:
        cards, entries = self.repo.rate_cards()
        return {c.id: c for c in cards}, entries

    async def unit_classes(self) -> dict[str, UnitOfMeasureClass]:
        classes, _ = await self._uom.get()
        return classes

    async def units(self) -> dict[str, UnitOfMeasure]:
        _, units = await self._uom.get()
        return units

    async def rate_cards(self) -> dict[str, RateCard]:
        cards, _ = await self._rates.get()
        return cards

    async def rate_entries(self) -> list[RateCardEntry]:
        _, entries = await self._rates.get()
        return entries

    async def policies(self) -> dict[str, Policy]:
        return await self._policies.get()
