"""The port the catalog service reads and writes through. ``infra`` implements it over DynamoDB."""

from __future__ import annotations

from typing import Protocol, TypeVar

from core.catalog import CatalogRecord, ProductUsageGrant, ProductUsageResource, RateCardEntry, UnitOfMeasure

T = TypeVar("T")


class Ids(Protocol):
    """New record ids (storage decides their shape)."""

    def pur(self, product_code: str) -> str: ...

    def grant(self, pur_id: str) -> str: ...

    def policy(self) -> str: ...

    def rate_card(self) -> str: ...

    def rate_entry(self, rate_card_id: str) -> str: ...


class CatalogStore(Protocol):
    def get(self, kind: type[T], key: str) -> T | None:
        """One record by its code (coded kinds) or id; ``None`` when absent in this tenant."""

    def insert(self, record: CatalogRecord) -> None:
        """Create; raises DomainError(DUPLICATE_CODE) when the code or id is taken."""

    def replace(self, old: CatalogRecord, new: CatalogRecord) -> None:
        """Overwrite ``old`` with ``new``; raises Conflict when ``old`` changed meanwhile."""

    def delete(self, record: CatalogRecord) -> None: ...

    def units_of_class(self, class_code: str) -> list[UnitOfMeasure]: ...

    def purs_of_product(self, product_code: str) -> list[ProductUsageResource]: ...

    def grants_of_pur(self, product_code: str, pur_id: str) -> list[ProductUsageGrant]: ...

    def entries_of_card(self, rate_card_id: str) -> list[RateCardEntry]: ...

    def resource_is_referenced(self, resource_code: str) -> bool:
        """True when a PUR, a rate card entry or a resource's token link points at the resource."""
