"""Policy precedence: product-resource override, else resource default, else the system default."""

from __future__ import annotations

from core.catalog import AggregationMethod, Policy, PolicyKind, PolicySet, RecordStatus
from core.policies import resolve

PEAK = Policy("agg-peak", PolicyKind.AGGREGATION, "peak", aggregation_method=AggregationMethod.PEAK,
              aggregation_period=None, status=RecordStatus.ACTIVE)
FREE = Policy("free", PolicyKind.OVERAGE, "free", chargeable=False, status=RecordStatus.ACTIVE)
PAID = Policy("paid", PolicyKind.OVERAGE, "paid", chargeable=True, status=RecordStatus.DRAFT)
LATE = Policy("late", PolicyKind.RATING_FREQUENCY, "late", delay=7, status=RecordStatus.ACTIVE)
ALL = {p.id: p for p in (PEAK, FREE, PAID, LATE)}


def test_without_policies_the_system_defaults_apply() -> None:
    eff = resolve(None, None, ALL)
    assert (eff.aggregation_method, eff.overage_chargeable, eff.rating_delay_days) == ("SUM", True, 3)
    assert eff.commitment_rate == "LOWEST_COMMITMENT_RATE"


def test_product_level_overrides_resource_level_kind_by_kind() -> None:
    # GIVEN the resource says PEAK and paid overage, and the product says free overage
    resource = PolicySet(aggregation_policy_id="agg-peak", overage_policy_id="paid", rating_frequency_policy_id="late")
    product = PolicySet(overage_policy_id="free")
    # WHEN resolved THEN overage comes from the product, the rest from the resource
    eff = resolve(product, resource, ALL)
    assert eff.overage_chargeable is False
    assert eff.aggregation_method == "PEAK" and eff.rating_delay_days == 7


def test_runtime_resolution_skips_policies_that_are_not_active() -> None:
    resource = PolicySet(overage_policy_id="paid")
    product = PolicySet()
    assert resolve(product, PolicySet(overage_policy_id="free"), ALL, active_only=True).overage_chargeable is False
    # the DRAFT "paid" policy is ignored at runtime: the system default (chargeable) applies
    assert resolve(product, resource, {**ALL, "paid": Policy("paid", PolicyKind.OVERAGE, "p", chargeable=False)},
                   active_only=True).overage_chargeable is True
