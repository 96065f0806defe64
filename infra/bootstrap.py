"""Start-up of any entry point: point the clients at the configured store, create missing tables, seed tenants.

A Lambda cold start only calls ``connect(create_tables=False)``: creating tables (``infra.tables``) and seeding
tenants (the catalog service) belong to the local server, the CLI and the tests, which import them when they call.
"""

from __future__ import annotations

from infra.dynamo import dynamodb_client, reset_clients
from infra.settings import Settings, get_settings, reset_settings

CURRENCY_CLASS = "CURRENCY"


def connect(settings: Settings | None = None, create_tables: bool = True) -> Settings:
    """Point boto3's clients at the store named by the settings (they are made again, lazily); create missing
    tables when asked."""
    if settings is None:
        reset_settings()
        settings = get_settings()
    reset_clients()
    if create_tables:
        from infra.tables import ensure_tables

        ensure_tables(dynamodb_client(settings), settings)
    return settings


def bootstrap_tenant(tenant: str) -> None:
    """Every tenant starts with an ACTIVE CURRENCY unit class holding the common ISO 4217 currencies."""
    from decimal import Decimal

    from core.catalog import RecordStatus, UnitClassType, UnitOfMeasure, UnitOfMeasureClass
    from core.catalog.service import CatalogService
    from core.errors import DomainError, ErrorCode
    from core.money import CURRENCIES
    from infra.catalog_repo import CatalogRepository

    repo = CatalogRepository(tenant)
    if repo.get(UnitOfMeasureClass, CURRENCY_CLASS) is not None:
        return
    units = [UnitOfMeasure(code, name, CURRENCY_CLASS, conversion_factor=Decimal(1),
                           sequence=i, decimal_places=places, status=RecordStatus.ACTIVE)
             for i, (code, (name, places)) in enumerate(CURRENCIES.items())]
    cls = UnitOfMeasureClass(CURRENCY_CLASS, "Currency", UnitClassType.CURRENCY, "USD", "USD",
                             status=RecordStatus.ACTIVE)
    try:
        CatalogService(repo).create_unit_class(cls, units)
    except DomainError as exc:
        if exc.code != ErrorCode.DUPLICATE_CODE:  # a concurrent bootstrap got there first
            raise
