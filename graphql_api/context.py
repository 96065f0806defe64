"""The typed context built for every request: who calls, and fresh repositories and DataLoaders.

The repositories, services and loaders are imported by the property that builds them, so a cold start imports
only those its first request uses (the schema never needs them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from strawberry.types import Info as StrawberryInfo

from core.auth import Principal

if TYPE_CHECKING:
    from core.catalog.service import CatalogService
    from core.ingestion import Ingestion
    from graphql_api.loaders import CatalogLoaders
    from infra.accounts_repo import AccountsRepository
    from infra.apikeys import ApiKeysRepository
    from infra.catalog_repo import CatalogRepository
    from infra.summaries_repo import SummariesRepository
    from infra.usage_repo import UsageRepository
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
        from infra.catalog_repo import CatalogRepository

        return CatalogRepository(self.tenant)

    @cached_property
    def catalog_service(self) -> CatalogService:
        from core.catalog.service import CatalogService
        from infra.activation_repo import StorageIds

        return CatalogService(self.catalog, StorageIds())

    @cached_property
    def loaders(self) -> CatalogLoaders:
        from graphql_api.loaders import CatalogLoaders

        return CatalogLoaders(self.catalog)

    @cached_property
    def accounts(self) -> AccountsRepository:
        from infra.accounts_repo import AccountsRepository

        return AccountsRepository(self.tenant)

    @cached_property
    def wallets(self) -> WalletsRepository:
        from infra.wallets_repo import WalletsRepository

        return WalletsRepository(self.tenant, accounts=self.accounts)

    @cached_property
    def summaries(self) -> SummariesRepository:
        from infra.summaries_repo import SummariesRepository

        return SummariesRepository(self.tenant)

    @cached_property
    def api_keys(self) -> ApiKeysRepository:
        from infra.apikeys import ApiKeysRepository

        return ApiKeysRepository(self.tenant)

    @cached_property
    def usage(self) -> UsageRepository:
        from infra.usage_repo import UsageRepository

        return UsageRepository(self.tenant)

    @cached_property
    def usage_ingestion(self) -> Ingestion:
        from infra.usage_repo import usage_ingestion

        return usage_ingestion(self.tenant, catalog=self.catalog, records=self.usage)


Info = StrawberryInfo[Context, None]
