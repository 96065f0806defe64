"""A clean product snapshot in plain records, for the validator and activation-plan tests to break one way at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from core.catalog import (
    GrantType,
    Policy,
    PolicyKind,
    PolicySet,
    Product,
    ProductResourcePolicy,
    ProductUsageGrant,
    ProductUsageResource,
    RateCard,
    RateCardEntry,
    RateCardType,
    RecordStatus,
    ResourceCategory,
    UnitClassType,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageModelType,
    UsageResource,
    ValidityUnit,
)
from core.validation import ProductSnapshot

JAN = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
D = Decimal


def pieces() -> dict[str, Any]:
    """A clean ANCHOR product: DATA (class DATA, default GB) with a 2 GB grant and a $1.25 rate, all DRAFT."""
    return {
        "product": Product("P", "Plan", UsageModelType.ANCHOR),
        "classes": [UnitOfMeasureClass("DATA", "Data", UnitClassType.USAGE, "MB", "GB"),
                    UnitOfMeasureClass("TIME", "Time", UnitClassType.USAGE, "MIN", "MIN"),
                    UnitOfMeasureClass("CURRENCY", "Currency", UnitClassType.CURRENCY, "USD", "USD",
                                       RecordStatus.ACTIVE),
                    UnitOfMeasureClass("CREDITS", "Credits", UnitClassType.TOKEN, "CR", "CR")],
        "units": [UnitOfMeasure("MB", "Megabyte", "DATA", D(1)), UnitOfMeasure("GB", "Gigabyte", "DATA", D(1024)),
                  UnitOfMeasure("MIN", "Minute", "TIME", D(1)),
                  UnitOfMeasure("USD", "US Dollar", "CURRENCY", D(1), status=RecordStatus.ACTIVE),
                  UnitOfMeasure("CR", "Credit", "CREDITS", D(1))],
        "resources": [UsageResource("DATA", "Data", ResourceCategory.USAGE, "DATA", "GB")],
        "purs": [ProductUsageResource("P:1", "P", "DATA", JAN, END)],
        "grants": [ProductUsageGrant("P:1:1", "P", "P:1", GrantType.GRANT, D(2), "GB", 1, ValidityUnit.MONTH, JAN,
                                     END, refresh_policy_id="refresh")],
        "policies": [Policy("refresh", PolicyKind.GRANT_REFRESH, "Renew Grants Monthly", refresh_allowed=True,
                            refresh_frequency=1), Policy("overage", PolicyKind.OVERAGE, "Overage", chargeable=True)],
        "product_policies": [ProductResourcePolicy("P", "P:1", PolicySet(overage_policy_id="overage"))],
        "rate_cards": [RateCard("card", "Base", RateCardType.BASE, JAN)],
        "entries": [RateCardEntry("card:1", "card", "DATA", "P", D("1.25"), "USD", JAN, END)],
    }


def snapshot(**changes: Any) -> ProductSnapshot:
    parts = {**pieces(), **changes}
    return ProductSnapshot.of(parts.pop("product"), **parts)
