"""The typed context built for every request: who calls, and fresh repositories and DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from strawberry.types import Info as StrawberryInfo

from core.auth import Principal
from core.catalog_service import CatalogService
from core.ingestion import Ingestion
from graphql_api.loaders import CatalogLoaders
from infra.accounts_repo import AccountsRepository
from infra.catalog_repo import CatalogRepository
from infra.summaries_repo import SummariesRepository
from infra.usage_repo import UsageRepository, usage_ingestion
from infra.wallets_repo import WalletsRepository


@dataclass
class Context:
    principal: Principal | None
    request: Any = None
    response: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def tenant(self) -> str:
        assert self.principal is not None, "resolvers run behind authentication"
        return self.principal.tenant

    @cached_property
    def catalog(self) -> CatalogRepository:
        return CatalogRepository(self.tenant)

    @cached_property
    def catalog_service(self) -> CatalogService:
        return CatalogService(self.catalog)

    @cached_property
    def loaders(self) -> CatalogLoaders:
        return CatalogLoaders(self.catalog)

    @cached_property
    def accounts(self) -> AccountsRepository:
        return AccountsRepository(self.tenant)

    @cached_property
    def wallets(self) -> WalletsRepository:
        return WalletsRepository(self.tenant, accounts=self.accounts)

    @cached_property
    def summaries(self) -> SummariesRepository:
        return SummariesRepository(self.tenant)

    @cached_property
    def usage(self) -> UsageRepository:
        return UsageRepository(self.tenant)

    @cached_property
    def usage_ingestion(self) -> Ingestion:
        return usage_ingestion(self.tenant, catalog=self.catalog, records=self.usage)


Info = StrawberryInfo[Context, None]
