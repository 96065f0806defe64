"""Which records activation flips and in which order (DOMAIN §1.3), pure: the DRAFT chain in dependency order, the
product and its PURs as the gates flipped last, and the refusals that leave everything as it was."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from core.activation import MAX_RECORDS, plan_activation
from core.catalog import (
    GrantType,
    Product,
    ProductUsageGrant,
    ProductUsageResource,
    RecordStatus,
    UsageModelType,
    ValidityUnit,
)
from core.errors import DomainError
from tests.unit.snapshots import pieces, snapshot

JAN = datetime(2026, 1, 1, tzinfo=UTC)


def kinds(records: Any) -> list[str]:
    return [type(r).__name__ for r in records]


def test_the_draft_chain_comes_in_dependency_order_with_the_product_and_purs_as_gates() -> None:
    # GIVEN the clean snapshot (all DRAFT but the currency) WHEN planned
    plan = plan_activation(snapshot())
    # THEN every DRAFT record is there once, reference data first, the product before what points at it
    assert kinds(plan.records) == [
        "UnitOfMeasureClass", "UnitOfMeasure", "UnitOfMeasure", "UsageResource", "Policy", "Policy", "Product",
        "ProductUsageResource", "ProductResourcePolicy", "ProductUsageGrant", "RateCard", "RateCardEntry"]
    assert all(r.status == RecordStatus.DRAFT for r in plan.records)
    # AND the gates (flipped last, together) are the product and its PURs; the rest is staged before them
    assert kinds(plan.gates) == ["Product", "ProductUsageResource"]
    assert len(plan.staged) + len(plan.gates) == len(plan)


def test_token_resources_come_before_the_resources_that_convert_into_them() -> None:
    from core.catalog import ResourceCategory, UsageResource

    token = UsageResource("AAA-CREDITS", "Credits", ResourceCategory.TOKEN, "CREDITS", "CR")
    data = replace(pieces()["resources"][0], token_resource_code=token.code, tokens_per_unit=Decimal(2))
    plan = plan_activation(snapshot(resources=[data, token]))
    assert [r.code for r in plan.records if isinstance(r, UsageResource)] == ["AAA-CREDITS", "DATA"]


def test_an_active_product_with_nothing_draft_has_nothing_to_do() -> None:
    parts = pieces()
    everything = {k: [replace(r, status=RecordStatus.ACTIVE) for r in v] if isinstance(v, list) else v
                  for k, v in parts.items()}
    everything["product"] = replace(parts["product"], status=RecordStatus.ACTIVE)
    assert len(plan_activation(snapshot(**everything))) == 0


def test_refusals_name_their_reason() -> None:
    # GIVEN an INACTIVE product THEN STATUS_FORBIDS
    with pytest.raises(DomainError) as inactive:
        plan_activation(snapshot(product=Product("P", "Plan", UsageModelType.ANCHOR, RecordStatus.INACTIVE)))
    assert inactive.value.code == "STATUS_FORBIDS"
    # GIVEN a grant whose refresh policy is INACTIVE THEN INACTIVE_REFERENCE (validator or not)
    policies = [replace(pieces()["policies"][0], status=RecordStatus.INACTIVE), pieces()["policies"][1]]
    with pytest.raises(DomainError) as reference:
        plan_activation(snapshot(policies=policies))
    assert reference.value.code == "INACTIVE_REFERENCE" and "refresh" in reference.value.message


def test_more_than_200_records_or_98_purs_are_refused() -> None:
    # GIVEN a PUR with 200 DRAFT grants (over 200 records in the chain)
    grants = [ProductUsageGrant(f"P:1:{i}", "P", "P:1", GrantType.GRANT, Decimal(1), "GB", 1, ValidityUnit.MONTH,
                                JAN, None) for i in range(MAX_RECORDS)]
    with pytest.raises(DomainError) as too_many:
        plan_activation(snapshot(grants=grants))
    assert (too_many.value.code, too_many.value.field) == ("MAX_LIMIT_EXCEEDED", "productCode")
    # GIVEN 99 DRAFT PURs: the gates would not fit one transaction with the journal
    purs = [ProductUsageResource(f"P:{i}", "P", "DATA", datetime(2026 + i, 1, 1, tzinfo=UTC),
                                 datetime(2026 + i, 12, 31, tzinfo=UTC)) for i in range(99)]
    with pytest.raises(DomainError) as gates:
        plan_activation(snapshot(purs=purs, grants=[], product_policies=[]))
    assert gates.value.code == "MAX_LIMIT_EXCEEDED" and "product usage resources" in gates.value.message
