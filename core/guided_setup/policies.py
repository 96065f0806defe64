"""The policies guided setup wires: the defaults of ``core.policies.DEFAULT_POLICIES``, the refresh and rollover policy
each grant asks for, and one policy per kind and settings — an existing one reused instead of a copy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from core.catalog import PeriodUnit, Policy, PolicyKind, RecordStatus
from core.catalog.store import Ids
from core.guided_setup.model import GuidedGrant
from core.money import fmt
from core.policies import DEFAULT_POLICIES

AGGREGATION = DEFAULT_POLICIES["Aggregate Usage Monthly by Sum"]
RATING_FREQUENCY = DEFAULT_POLICIES["Rate Usage Monthly"]
OVERAGE = DEFAULT_POLICIES["Overage Chargeable"]
COMMITMENT = DEFAULT_POLICIES["Lowest Commitment Fulfilled Rate"]
REFRESH = DEFAULT_POLICIES["Renew Grants Monthly"]
ROLLOVER = DEFAULT_POLICIES["Rollover Grants without Expiry"]


def refresh_template(grant: GuidedGrant) -> Policy | None:
    """The refresh policy a grant asks for; None when the input is contradictory (reported by the checks)."""
    if grant.refresh_every is None and grant.refresh_unit is None:
        return REFRESH
    every = 1 if grant.refresh_every is None else grant.refresh_every
    if every == 0:
        return Policy(id="", kind=PolicyKind.GRANT_REFRESH, name="Do Not Renew Grants", refresh_allowed=False)
    unit = grant.refresh_unit or PeriodUnit.MONTH
    if (every, unit) == (REFRESH.refresh_frequency, REFRESH.refresh_unit):
        return REFRESH
    label = unit.value.title() + ("s" if every > 1 else "")
    return Policy(id="", kind=PolicyKind.GRANT_REFRESH, name=f"Renew Grants Every {every} {label}",
                  refresh_allowed=True, refresh_frequency=every, refresh_unit=unit)


def rollover_template(grant: GuidedGrant) -> Policy:
    """The rollover policy a grant asks for. Reuse goes by settings (``Policy.settings``), so two grants with the
    same count and quantity cap share one policy, and a cap makes a policy distinct from the uncapped one."""
    if grant.rollover is False:
        return Policy(id="", kind=PolicyKind.GRANT_ROLLOVER, name="Do Not Roll Over Grants", rollover_allowed=False,
                      rollover_can_expire=False)
    cap = grant.maximum_rollover_quantity
    if grant.maximum_rollover_count is None and cap is None:
        return ROLLOVER
    n = grant.maximum_rollover_count
    name = f"Rollover Grants, Expire after {n} Rollovers" if n is not None else "Rollover Grants without Expiry"
    if cap is not None:
        name += f", at most {fmt(cap)} per Rollover"
    return Policy(id="", kind=PolicyKind.GRANT_ROLLOVER, name=name, rollover_allowed=True,
                  rollover_can_expire=n is not None, maximum_rollover_count=n, maximum_rollover_quantity=cap)


class PolicyPicker:
    """One policy per (kind, settings): an existing ACTIVE or DRAFT one if the tenant has it, else a new one."""

    def __init__(self, existing: Sequence[Policy], ids: Ids):
        self.ids = ids
        self.by_settings: dict[tuple[object, ...], Policy] = {}
        live = [p for p in existing if p.status != RecordStatus.INACTIVE]
        for policy in sorted(live, key=lambda p: (p.status != RecordStatus.ACTIVE, p.id)):
            self.by_settings.setdefault((policy.kind, *policy.settings()), policy)
        self.created: list[Policy] = []
        self.reused: dict[str, Policy] = {}

    def pick(self, template: Policy) -> str:
        key = (template.kind, *template.settings())
        found = self.by_settings.get(key)
        if found is None:
            found = replace(template, id=self.ids.policy(), status=RecordStatus.DRAFT)
            self.by_settings[key] = found
            self.created.append(found)
        elif found not in self.created:
            self.reused[found.id] = found
        return found.id
