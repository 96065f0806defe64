"""The product validator (DOMAIN §1.2): pure rules over a read-only product snapshot, one module per rule family.

Each rule is a function ``ProductSnapshot -> Iterable[Finding]``; ``validate`` runs them all over the records in
service (not INACTIVE) that overlap an optional date range.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from core.validation import commitments, effectivity, rates, references, units
from core.validation.findings import Finding, ProductValidation, RecordRef, Severity
from core.validation.snapshot import ProductSnapshot, Window

Rule = Callable[[ProductSnapshot], Iterable[Finding]]

RULES: tuple[Rule, ...] = (*effectivity.RULES, *units.RULES, *references.RULES, *rates.RULES, *commitments.RULES)


def validate(snapshot: ProductSnapshot, window: Window | None = None) -> ProductValidation:
    view = snapshot.within(window or Window()).in_service()
    found = [f for rule in RULES for f in rule(view)]
    return ProductValidation(
        product_code=snapshot.product.code,
        errors=tuple(f for f in found if f.severity == Severity.ERROR),
        warnings=tuple(f for f in found if f.severity == Severity.WARNING),
    )


__all__ = ["Finding", "ProductSnapshot", "ProductValidation", "RULES", "RecordRef", "Severity", "Window", "validate"]
