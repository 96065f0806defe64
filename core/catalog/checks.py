"""Field checks every way of configuring the catalog shares (manual commands and guided setup): codes, names,
ranges, tier values, rollover caps. Each adds its problems to a ``Collector`` under the field it names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from core.bounds import MAX_NAME, DecimalKind, check_decimal, check_text, quote
from core.catalog import (
    CODE_PATTERN,
    RateTier,
    ResourceCategory,
    UnitClassType,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageModelType,
)
from core.errors import Collector, ErrorCode
from core.rating.model import RateTier as PricingTier
from core.rating.tier_rules import validate_tiers

CATEGORY_FOR_CLASS = {
    UnitClassType.USAGE: ResourceCategory.USAGE,
    UnitClassType.TOKEN: ResourceCategory.TOKEN,
    UnitClassType.CURRENCY: ResourceCategory.CURRENCY,
}
COMMITMENT_TYPES = {UsageModelType.TOKEN_COMMITMENT, UsageModelType.QUANTITY_COMMITMENT,
                    UsageModelType.MONETARY_COMMITMENT}


def check_code(errors: Collector, code: str, field: str = "code") -> None:
    if not re.match(CODE_PATTERN, code or ""):
        errors.add(ErrorCode.INVALID_VALUE,
                   f"code {quote(code)} must be 1–64 letters, digits, '_', '.' or '-', starting with a letter or digit",
                   field)


def check_range(errors: Collector, start: datetime | None, end: datetime | None,
                field: str = "effectiveTo", what: str = "end") -> None:
    if start is not None and end is not None and end <= start:
        errors.add(ErrorCode.INVALID_RANGE, f"{what} {end.isoformat()} must be after start {start.isoformat()}",
                   field)


def check_name(errors: Collector, name: str | None, field: str = "name") -> None:
    """A name: not empty, at most ``core.bounds.MAX_NAME`` characters, plain text (no lone surrogates)."""
    if name is not None and not name.strip():
        errors.add(ErrorCode.REQUIRED, f"{field} must not be empty", field)
    else:
        check_text(errors, name, field, MAX_NAME)


def check_tiers(errors: Collector, tiers: Sequence[RateTier], path: str = "") -> None:
    """A rate's tiers: ordered, contiguous ranges (``core.rating.tier_rules``), each tier's bounds quantities and its
    adjustment and flat fee inside their kinds (``core.bounds``); ``path`` prefixes every field (``resources.0.``)."""
    pricing = [PricingTier(t.lower_bound, t.upper_bound, t.adjustment_type, t.adjustment_value, t.flat_fee)
               for t in tiers]
    for problem in validate_tiers(pricing):
        errors.add(ErrorCode.INVALID_RANGE, problem.message,
                   f"{path}tiers.{problem.indexes[0]}" if problem.indexes else f"{path}tiers")
    for index, tier in enumerate(tiers):
        at = f"{path}tiers.{index}."
        check_decimal(errors, tier.lower_bound, DecimalKind.QUANTITY, at + "lowerBound")
        check_decimal(errors, tier.upper_bound, DecimalKind.QUANTITY, at + "upperBound")
        check_decimal(errors, tier.adjustment_value, DecimalKind.ADJUSTMENT, at + "adjustmentValue")
        check_decimal(errors, tier.flat_fee, DecimalKind.AMOUNT, at + "flatFee")


def check_rollover_quantity(errors: Collector, value: Decimal | None, field: str) -> None:
    """A rollover cap is a quantity (core.bounds): 0 (nothing carries over) or more, within a quantity's bounds."""
    check_decimal(errors, value, DecimalKind.QUANTITY, field)


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p.title() for p in rest)


def check_class_units(errors: Collector, cls: UnitOfMeasureClass, units: Mapping[str, UnitOfMeasure]) -> None:
    """A class's base and default units are among its ``units`` (by unit code), and the base unit converts at 1."""
    if cls.base_unit_code not in units:
        errors.add(ErrorCode.UNIT_NOT_IN_CLASS, f"base unit '{cls.base_unit_code}' is not among the class's units",
                   "baseUnitCode")
    elif units[cls.base_unit_code].conversion_factor != 1:
        errors.add(ErrorCode.INVALID_VALUE, "the base unit's conversion factor must be 1", "baseUnitCode")
    if cls.default_unit_code not in units:
        errors.add(ErrorCode.UNIT_NOT_IN_CLASS,
                   f"default unit '{cls.default_unit_code}' is not among the class's units", "defaultUnitCode")
