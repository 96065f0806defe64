"""Catalog commands with their defaults and new ids (core.catalog.service), over an in-memory CatalogStore."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from core import catalog as c
from core.catalog.service import CatalogService
from core.errors import DomainError, ErrorCode
from core.rating.model import AdjustmentType, TierMode
from core.validation.snapshot import key_of

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)


class MemoryStore:
    """The CatalogStore port over a dict, keyed as the catalog names records."""

    def __init__(self) -> None:
        self.records: dict[tuple[type, str], Any] = {}

    def get(self, kind: type, key: str) -> Any:
        return self.records.get((kind, key))

    def insert(self, record: Any) -> None:
        if key_of(record) in self.records:
            raise DomainError(ErrorCode.DUPLICATE_CODE, f"{key_of(record)[1]} exists")
        self.records[key_of(record)] = record

    def replace(self, old: Any, new: Any) -> None:
        self.records[key_of(new)] = new

    def delete(self, record: Any) -> None:
        del self.records[key_of(record)]

    def units_of_class(self, class_code: str) -> list[c.UnitOfMeasure]:
        return [r for r in self.records.values() if isinstance(r, c.UnitOfMeasure) and r.class_code == class_code]

    def purs_of_product(self, product_code: str) -> list[c.ProductUsageResource]:
        return [r for r in self.records.values()
                if isinstance(r, c.ProductUsageResource) and r.product_code == product_code]

    def grants_of_pur(self, product_code: str, pur_id: str) -> list[c.ProductUsageGrant]:
        return [r for r in self.records.values() if isinstance(r, c.ProductUsageGrant) and r.pur_id == pur_id]

    def entries_of_card(self, rate_card_id: str) -> list[c.RateCardEntry]:
        return [r for r in self.records.values() if isinstance(r, c.RateCardEntry) and r.rate_card_id == rate_card_id]

    def resource_is_referenced(self, resource_code: str) -> bool:
        return False


class CountingIds:
    def __init__(self) -> None:
        self.count = 0

    def _next(self) -> str:
        self.count += 1
        return f"N{self.count}"

    def pur(self, product_code: str) -> str:
        return f"{product_code}#{self._next()}"

    def grant(self, pur_id: str) -> str:
        return f"{pur_id}#{self._next()}"

    def policy(self) -> str:
        return self._next()

    def rate_card(self) -> str:
        return self._next()

    def rate_entry(self, rate_card_id: str) -> str:
        return f"{rate_card_id}#{self._next()}"


@pytest.fixture
def svc() -> CatalogService:
    service = CatalogService(MemoryStore(), CountingIds())
    service.create_unit_class(c.UnitOfMeasureClass("TIME", "Time", c.UnitClassType.USAGE, "SEC", "MIN"),
                              [c.UnitOfMeasure("SEC", "Second", "TIME", Decimal(1)),
                               c.UnitOfMeasure("MIN", "Minute", "TIME", Decimal(60), 1)])
    service.create_unit_class(c.UnitOfMeasureClass("CURRENCY", "Money", c.UnitClassType.CURRENCY, "USD", "USD"),
                              [c.UnitOfMeasure("USD", "Dollar", "CURRENCY", Decimal(1), 0, 2)])
    service.create(c.Product("PLAN", "Plan", c.UsageModelType.ANCHOR))
    return service


def test_a_resource_without_a_default_unit_takes_its_class_default(svc: CatalogService) -> None:
    resource = svc.create_resource("CALLS", "Calls", c.ResourceCategory.USAGE, "TIME")
    assert resource.default_unit_code == "MIN"
    assert svc.create_resource("SMS", "Texts", c.ResourceCategory.USAGE, "TIME", "SEC").default_unit_code == "SEC"


def test_a_resource_of_an_unknown_class_is_an_unknown_reference(svc: CatalogService) -> None:
    with pytest.raises(DomainError) as refused:
        svc.create_resource("CALLS", "Calls", c.ResourceCategory.USAGE, "NOPE")
    assert (refused.value.code, refused.value.field) == (ErrorCode.UNKNOWN_REFERENCE, "unitOfMeasureClassCode")


def test_a_pur_naming_an_empty_resource_code_is_refused_not_stored(svc: CatalogService) -> None:
    # GIVEN a product  WHEN a PUR names the resource "" (found by the fuzz run: it was stored, and reading its
    # resource then failed as an unexpected error)
    with pytest.raises(DomainError) as refused:
        svc.create_pur("PLAN", "", START, END)
    # THEN it is a typed REQUIRED error on the field, and nothing was stored
    assert (refused.value.code, refused.value.field) == (ErrorCode.REQUIRED, "resourceCode")
    assert svc.store.get(c.ProductUsageResource, "PLAN#N1") is None


def test_a_pur_gets_a_new_id_of_its_product_and_a_grant_defaults_to_the_pur_and_resource(
        svc: CatalogService) -> None:
    svc.create_resource("CALLS", "Calls", c.ResourceCategory.USAGE, "TIME")
    pur = svc.create_pur("PLAN", "CALLS", START, END)
    assert pur.id == "PLAN#N1"
    grant = svc.create_grant(pur.id, Decimal(100), c.ValidityUnit.MONTH, validity_term=1)
    assert (grant.id, grant.product_code, grant.unit_code) == ("PLAN#N1#N2", "PLAN", "MIN")
    assert (grant.effective_from, grant.effective_to) == (START, END)
    later = datetime(2026, 3, 1, tzinfo=UTC)
    assert svc.create_grant(pur.id, Decimal(1), c.ValidityUnit.NONE, unit_code="SEC",
                            effective_from=later).effective_from == later


def test_a_grant_of_an_unknown_pur_is_refused_before_any_id_is_minted(svc: CatalogService) -> None:
    with pytest.raises(DomainError) as refused:
        svc.create_grant("PLAN#missing", Decimal(1), c.ValidityUnit.NONE)
    assert (refused.value.code, refused.value.field) == (ErrorCode.UNKNOWN_REFERENCE, "productUsageResourceId")
    ids: Any = svc.ids
    assert ids.count == 0


def test_a_rate_card_starts_now_unless_told_and_its_entries_take_its_dates(svc: CatalogService) -> None:
    svc.create_resource("CALLS", "Calls", c.ResourceCategory.USAGE, "TIME")
    card = svc.create_rate_card("Rates", c.RateCardType.BASE, None, END, NOW)
    assert (card.id, card.effective_from, card.effective_to) == ("N1", NOW, END)
    entry = svc.create_rate_card_entry(card.id, Decimal("0.1"), "USD", "CALLS")
    assert (entry.id, entry.effective_from, entry.effective_to) == ("N1#N2", NOW, END)
    assert svc.create_rate_card("Other", c.RateCardType.BASE, START, None, NOW).effective_from == START


def test_tiers_are_added_in_order_replaced_by_lower_bound_and_an_unknown_tier_is_not_found(
        svc: CatalogService) -> None:
    svc.create_resource("CALLS", "Calls", c.ResourceCategory.USAGE, "TIME")
    card = svc.create_rate_card("Rates", c.RateCardType.BASE, START, None, NOW)

    def tier(lower: int, upper: int | None, value: str) -> c.RateTier:
        return c.RateTier(Decimal(lower), None if upper is None else Decimal(upper), AdjustmentType.OVERRIDE,
                          Decimal(value))
    entry = svc.create_rate_card_entry(card.id, Decimal(1), "USD", "CALLS", tier_mode=TierMode.TIERED,
                                       tiers=[tier(0, 100, "1")])
    entry = svc.add_tier(entry.id, tier(100, None, "0.5"))
    assert [t.lower_bound for t in entry.tiers] == [0, 100]
    entry = svc.replace_tier(entry.id, "100", tier(100, None, "0.25"), "tier-ref")
    assert entry.tiers[1].adjustment_value == Decimal("0.25")
    with pytest.raises(DomainError) as refused:
        svc.replace_tier(entry.id, "7", None, "tier-ref")
    assert (refused.value.code, refused.value.message) == (ErrorCode.NOT_FOUND, "rate tier 'tier-ref' does not exist")


def test_a_policy_link_is_created_then_its_pointers_replaced_and_status_changed_only_when_given(
        svc: CatalogService) -> None:
    svc.create_resource("CALLS", "Calls", c.ResourceCategory.USAGE, "TIME")
    first = svc.create_policy(c.PolicyKind.OVERAGE, "Charge", chargeable=True)
    second = svc.create_policy(c.PolicyKind.OVERAGE, "Free", chargeable=False)
    created = svc.set_resource_policy("CALLS", c.PolicySet(overage_policy_id=first.id), c.RecordStatus.ACTIVE)
    assert (created.policies.overage_policy_id, created.status) == (first.id, c.RecordStatus.DRAFT)
    changed = svc.set_resource_policy("CALLS", c.PolicySet(overage_policy_id=second.id))
    assert (changed.policies.overage_policy_id, changed.status) == (second.id, c.RecordStatus.DRAFT)


def test_a_product_resource_policy_needs_an_existing_pur_and_a_binding_policy_is_upserted(
        svc: CatalogService) -> None:
    with pytest.raises(DomainError) as refused:
        svc.set_product_resource_policy("PLAN#missing", c.PolicySet())
    assert refused.value.field == "productUsageResourceId"
    svc.set_grant_binding_policy("PLAN", c.BindingType.SELF, None)
    changed = svc.set_grant_binding_policy("PLAN", c.BindingType.TARGET, c.BindingTargetType.ACCOUNT)
    assert (changed.binding, changed.target) == (c.BindingType.TARGET, c.BindingTargetType.ACCOUNT)


def test_a_service_without_ids_refuses_to_mint_one() -> None:
    with pytest.raises(TypeError):
        CatalogService(MemoryStore()).create_policy(c.PolicyKind.OVERAGE, "Charge", chargeable=True)
