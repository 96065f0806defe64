"""Policy precedence: the product-resource override, else the resource default, else the system default."""

from __future__ import annotations

from collections.abc import Mapping

from core.catalog import (
    AggregationMethod,
    AggregationPeriod,
    CommitmentRate,
    EffectivePolicy,
    PeriodUnit,
    Policy,
    PolicyKind,
    PolicySet,
    RecordStatus,
)

DEFAULT_RATING_DELAY_DAYS = 3

#: The out-of-the-box policies of guided setup (DOMAIN §1), without ids.
DEFAULT_POLICIES: dict[str, Policy] = {
    "Aggregate Usage Monthly by Sum": Policy(
        id="", kind=PolicyKind.AGGREGATION, name="Aggregate Usage Monthly by Sum",
        aggregation_method=AggregationMethod.SUM, aggregation_period=AggregationPeriod.MONTHLY),
    "Renew Grants Monthly": Policy(
        id="", kind=PolicyKind.GRANT_REFRESH, name="Renew Grants Monthly",
        refresh_allowed=True, refresh_frequency=1, refresh_unit=PeriodUnit.MONTH),
    "Rollover Grants without Expiry": Policy(
        id="", kind=PolicyKind.GRANT_ROLLOVER, name="Rollover Grants without Expiry",
        rollover_allowed=True, rollover_can_expire=False),
    "Overage Chargeable": Policy(id="", kind=PolicyKind.OVERAGE, name="Overage Chargeable", chargeable=True),
    "Lowest Commitment Fulfilled Rate": Policy(
        id="", kind=PolicyKind.COMMITMENT, name="Lowest Commitment Fulfilled Rate",
        commitment_rate=CommitmentRate.LOWEST_COMMITMENT_RATE),
    "Rate Usage Monthly": Policy(
        id="", kind=PolicyKind.RATING_FREQUENCY, name="Rate Usage Monthly",
        rating_period=AggregationPeriod.MONTHLY, delay=DEFAULT_RATING_DELAY_DAYS, delay_unit="DAY"),
}


def resolve(product_level: PolicySet | None, resource_level: PolicySet | None,
            policies: Mapping[str, Policy], active_only: bool = False) -> EffectivePolicy:
    """Resolve the four resource-level policy kinds into one effective policy.

    ``policies`` maps policy id → Policy for at least every id referenced. With ``active_only`` (runtime),
    a DRAFT/INACTIVE policy is skipped as if it were not set.
    """

    def pick(kind: PolicyKind) -> Policy | None:
        for level in (product_level, resource_level):
            policy_id = level.policy_id(kind) if level else None
            policy = policies.get(policy_id) if policy_id else None
            if policy is not None and (not active_only or policy.status == RecordStatus.ACTIVE):
                return policy
        return None

    aggregation = pick(PolicyKind.AGGREGATION)
    frequency = pick(PolicyKind.RATING_FREQUENCY)
    overage = pick(PolicyKind.OVERAGE)
    commitment = pick(PolicyKind.COMMITMENT)
    return EffectivePolicy(
        aggregation_method=(aggregation and aggregation.aggregation_method) or AggregationMethod.SUM,
        aggregation_period=(aggregation and aggregation.aggregation_period) or AggregationPeriod.MONTHLY,
        overage_chargeable=True if overage is None or overage.chargeable is None else overage.chargeable,
        rating_delay_days=DEFAULT_RATING_DELAY_DAYS if frequency is None or frequency.delay is None
        else frequency.delay,
        commitment_rate=(commitment and commitment.commitment_rate) or CommitmentRate.LOWEST_COMMITMENT_RATE,
    )
