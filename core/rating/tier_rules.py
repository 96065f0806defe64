"""Structural rules for a set of tiers, reported as problems rather than raised, so a validator can list them all."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from core.money import fmt
from core.rating.model import ZERO, RateTier
from core.values import immutable


class TierProblemKind(StrEnum):
    INVERTED_BOUNDS = "INVERTED_BOUNDS"
    NOT_FROM_ZERO = "NOT_FROM_ZERO"
    OVERLAP = "OVERLAP"
    GAP = "GAP"
    OPEN_NOT_LAST = "OPEN_NOT_LAST"


@immutable
class TierProblem:
    """One broken rule; ``indexes`` point into the tiers as given."""

    kind: TierProblemKind
    message: str
    indexes: tuple[int, ...]


def validate_tiers(tiers: Sequence[RateTier]) -> list[TierProblem]:
    """Every problem with ``tiers``: inverted bounds, first not at 0, overlaps, gaps, an open tier before the end."""
    problems: list[TierProblem] = []
    if not tiers:
        return problems
    for i, tier in enumerate(tiers):
        if tier.upper_bound is not None and tier.lower_bound >= tier.upper_bound:
            problems.append(
                TierProblem(
                    TierProblemKind.INVERTED_BOUNDS,
                    f"tier {i + 1}: lower bound {fmt(tier.lower_bound)} is not below upper bound "
                    f"{fmt(tier.upper_bound)}",
                    (i,),
                )
            )
    order = sorted(range(len(tiers)), key=lambda i: (tiers[i].lower_bound, _upper_key(tiers[i])))
    first = tiers[order[0]]
    if first.lower_bound != ZERO:
        problems.append(
            TierProblem(
                TierProblemKind.NOT_FROM_ZERO,
                f"tier {order[0] + 1}: the first tier starts at {fmt(first.lower_bound)}, not 0",
                (order[0],),
            )
        )
    for prev_i, next_i in zip(order, order[1:], strict=False):
        prev, nxt = tiers[prev_i], tiers[next_i]
        pair = (prev_i, next_i)
        if prev.upper_bound is None:
            problems.append(
                TierProblem(
                    TierProblemKind.OPEN_NOT_LAST,
                    f"tier {prev_i + 1} has no upper bound but tier {next_i + 1} follows it",
                    pair,
                )
            )
        elif nxt.lower_bound < prev.upper_bound:
            problems.append(
                TierProblem(
                    TierProblemKind.OVERLAP,
                    f"tiers {prev_i + 1} and {next_i + 1} overlap: {fmt(nxt.lower_bound)} < {fmt(prev.upper_bound)}",
                    pair,
                )
            )
        elif nxt.lower_bound > prev.upper_bound:
            problems.append(
                TierProblem(
                    TierProblemKind.GAP,
                    f"gap between tiers {prev_i + 1} and {next_i + 1}: "
                    f"{fmt(prev.upper_bound)} to {fmt(nxt.lower_bound)}",
                    pair,
                )
            )
    return problems


def _upper_key(tier: RateTier) -> tuple[int, object]:
    return (1, ZERO) if tier.upper_bound is None else (0, tier.upper_bound)
