"""Unit consistency (DOMAIN §1.2): quantities are in their resource's unit class; rates are in money or tokens."""

from __future__ import annotations

from collections.abc import Iterator

from core.catalog import UnitClassType
from core.errors import ErrorCode
from core.validation.findings import Finding, error
from core.validation.snapshot import ProductSnapshot

RULE = "UNIT_CONSISTENCY"
RATE_CLASS_TYPES = (UnitClassType.CURRENCY, UnitClassType.TOKEN)


def unit_consistency(s: ProductSnapshot) -> Iterator[Finding]:
    """Error: a resource's usage (default) unit or a grant's unit is outside the resource's unit class, or a rate
    card entry's rate unit is neither a CURRENCY nor a TOKEN unit. Units that do not exist are left to the
    references rule."""
    for resource in s.resources.values():
        unit = s.units.get(resource.default_unit_code)
        if unit is not None and unit.class_code != resource.unit_class_code:
            yield error(RULE, ErrorCode.UNIT_NOT_IN_CLASS,
                        f"{resource.code}'s usage unit {unit.unit_code} is in class {unit.class_code}, not in the "
                        f"resource's class {resource.unit_class_code}", resource, unit)
    for pur in s.purs:
        measured = s.resources.get(pur.resource_code)
        for grant in s.grants_of(pur):
            unit = s.units.get(grant.unit_code)
            if measured is not None and unit is not None and unit.class_code != measured.unit_class_code:
                yield error(RULE, ErrorCode.UNIT_NOT_IN_CLASS,
                            f"the grant is in {unit.unit_code} (class {unit.class_code}) but {measured.code} is "
                            f"measured in class {measured.unit_class_code}", grant, unit, measured)
    for entry in s.entries:
        unit = s.units.get(entry.rate_unit_code)
        cls = s.classes.get(unit.class_code) if unit else None
        if unit is not None and cls is not None and cls.type not in RATE_CLASS_TYPES:
            yield error(RULE, "RATE_UNIT_NOT_MONETARY",
                        f"the rate is per {unit.unit_code}, a {cls.type} unit; a rate unit must be a CURRENCY or "
                        f"TOKEN unit", entry, unit)


RULES = (unit_consistency,)
