"""Guided setup planning (DOMAIN §1.1), pure: what one call creates, which policies it reuses, and how every
faulty field is reported with its input path before anything is planned."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from itertools import count
from typing import Any

import pytest

from core.catalog import (
    PeriodUnit,
    Policy,
    PolicyKind,
    Product,
    ProductResourcePolicy,
    ProductUsageGrant,
    ProductUsageResource,
    RateCard,
    RateCardEntry,
    RateTier,
    RecordStatus,
    UnitClassType,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageModelType,
    UsageResource,
    ValidityUnit,
)
from core.errors import DomainError
from core.guided_setup import (
    GuidedGrant,
    GuidedResource,
    GuidedSetup,
    NewResource,
    SetupCatalog,
    SetupPlan,
    plan_setup,
)
from core.policies import DEFAULT_POLICIES
from core.rating.model import AdjustmentType, TierMode

D = Decimal
JAN = datetime(2026, 1, 1, tzinfo=UTC)


class CountingIds:
    def __init__(self) -> None:
        self.n = count(1)

    def pur(self, product_code: str) -> str:
        return f"{product_code}:{next(self.n)}"

    def grant(self, pur_id: str) -> str:
        return f"{pur_id}:{next(self.n)}"

    def policy(self) -> str:
        return f"pol{next(self.n)}"

    def rate_card(self) -> str:
        return f"card{next(self.n)}"

    def rate_entry(self, rate_card_id: str) -> str:
        return f"{rate_card_id}:{next(self.n)}"


def catalog(**changes: Any) -> SetupCatalog:
    classes = [UnitOfMeasureClass("DATA", "Data", UnitClassType.USAGE, "MB", "GB", RecordStatus.ACTIVE),
               UnitOfMeasureClass("COUNT", "Count", UnitClassType.USAGE, "EA", "EA"),
               UnitOfMeasureClass("CURRENCY", "Currency", UnitClassType.CURRENCY, "USD", "USD", RecordStatus.ACTIVE)]
    units = [UnitOfMeasure("MB", "MB", "DATA", D(1)), UnitOfMeasure("GB", "GB", "DATA", D(1024)),
             UnitOfMeasure("EA", "Each", "COUNT", D(1)), UnitOfMeasure("USD", "USD", "CURRENCY", D(1)),
             UnitOfMeasure("EUR", "EUR", "CURRENCY", D(1))]
    base: dict[str, Any] = {
        "product": None, "product_purs": [],
        "resources": {"DATA": UsageResource("DATA", "Data", "USAGE", "DATA", "GB")},  # type: ignore[arg-type]
        "classes": {c.code: c for c in classes}, "units": {u.unit_code: u for u in units}, "policies": []}
    return SetupCatalog(**{**base, **changes})


def texts(**changes: Any) -> GuidedResource:
    base = GuidedResource("TEXTS", JAN, datetime(2026, 12, 31, tzinfo=UTC),
                          new_resource=NewResource("Texts", "COUNT"),
                          grants=(GuidedGrant(D(4000), ValidityUnit.MONTH, validity_term=1),),
                          overage_rate=D("0.75"), rate_unit_code="USD")
    return replace(base, **changes)


def data(**changes: Any) -> GuidedResource:
    base = GuidedResource("DATA", JAN, None, grants=(GuidedGrant(D(2), ValidityUnit.MONTH),), overage_rate=D("1.25"))
    return replace(base, **changes)


def plan(*resources: GuidedResource, kind: UsageModelType = UsageModelType.ANCHOR, **catalog_changes: Any
         ) -> SetupPlan:
    setup = GuidedSetup("CELL", kind, tuple(resources) or (texts(), data()), "Cell Phone Plan")
    return plan_setup(setup, catalog(**catalog_changes), CountingIds())


def of(kind: type, p: SetupPlan) -> list[Any]:
    return [r for r in p.records if isinstance(r, kind)]


def refused(*resources: GuidedResource, kind: UsageModelType = UsageModelType.ANCHOR, **catalog_changes: Any
            ) -> list[tuple[str, str | None]]:
    with pytest.raises(DomainError) as raised:
        plan(*resources, kind=kind, **catalog_changes)
    return [(d.code, d.field) for d in raised.value.all_details()]


def test_one_call_plans_the_whole_anchor_product_as_draft() -> None:
    # GIVEN a new product with a new resource (TEXTS) and an existing one (DATA)
    p = plan()
    # THEN the product, the new resource, two PURs, two PRPs, two grants, one BASE card and two entries, all DRAFT
    assert [type(r).__name__ for r in p.records if not isinstance(r, Policy)] == [
        "UsageResource", "Product", "ProductUsageResource", "ProductUsageResource", "ProductResourcePolicy",
        "ProductResourcePolicy", "ProductUsageGrant", "ProductUsageGrant", "RateCard", "RateCardEntry",
        "RateCardEntry"]
    assert all(r.status == RecordStatus.DRAFT for r in p.records)
    assert of(Product, p) == [Product("CELL", "Cell Phone Plan", UsageModelType.ANCHOR)]
    assert [r.code for r in of(UsageResource, p)] == ["TEXTS"]
    text_grant, data_grant = of(ProductUsageGrant, p)
    assert (text_grant.quantity, text_grant.unit_code, text_grant.validity_term) == (D(4000), "EA", 1)
    assert (data_grant.unit_code, data_grant.validity_term) == ("GB", 1)  # the resource's default unit, 1 term


def test_pur_dates_run_from_midnight_to_235959_utc_of_the_given_days() -> None:
    # GIVEN a start given late in the evening New York time (already the next day in UTC) and an end date
    evening = datetime(2026, 1, 1, 22, 0, tzinfo=timezone(timedelta(hours=-5)))
    p = plan(texts(effective_from=evening, effective_to=datetime(2026, 6, 30, 8, 15, tzinfo=UTC)))
    [pur] = of(ProductUsageResource, p)
    # THEN the PUR, its grant and its rate start at 00:00 and end at 23:59:59 UTC of those days
    assert pur.effective_from == datetime(2026, 1, 2, tzinfo=UTC)
    assert pur.effective_to == datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)
    [grant], [entry] = of(ProductUsageGrant, p), of(RateCardEntry, p)
    assert (grant.effective_from, grant.effective_to) == (pur.effective_from, pur.effective_to)
    assert (entry.effective_from, entry.effective_to) == (pur.effective_from, pur.effective_to)


def test_anchors_get_product_resource_policies_wired_to_the_defaults_and_packs_none() -> None:
    p = plan()
    names = {pol.id: pol.name for pol in of(Policy, p)}
    # THEN six default policies are created once for the whole call
    assert sorted(names.values()) == sorted(DEFAULT_POLICIES)
    prp = of(ProductResourcePolicy, p)[0].policies
    assert [names[i] for i in prp.ids()] == ["Aggregate Usage Monthly by Sum", "Rate Usage Monthly",
                                             "Overage Chargeable", "Lowest Commitment Fulfilled Rate"]
    grant = of(ProductUsageGrant, p)[0]
    assert (names[grant.refresh_policy_id], names[grant.rollover_policy_id]) == (
        "Renew Grants Monthly", "Rollover Grants without Expiry")
    # AND a PACK gets grants but no product-resource policies
    pack = plan(kind=UsageModelType.PACK)
    assert of(ProductResourcePolicy, pack) == [] and len(of(ProductUsageGrant, pack)) == 2


def test_an_identical_existing_policy_is_reused_instead_of_copied() -> None:
    # GIVEN the tenant already has an ACTIVE "overage chargeable" policy under another name, a DRAFT copy of it,
    # and an INACTIVE aggregation policy with the default settings
    mine = Policy("mine", PolicyKind.OVERAGE, "Bill overage", chargeable=True, status=RecordStatus.ACTIVE)
    draft_copy = Policy("a-draft", PolicyKind.OVERAGE, "Overage", chargeable=True)
    retired = replace(DEFAULT_POLICIES["Aggregate Usage Monthly by Sum"], id="old", status=RecordStatus.INACTIVE)
    p = plan(policies=[draft_copy, mine, retired])
    # THEN the ACTIVE one is wired in and reported as reused, the INACTIVE one is not
    assert [pol.id for pol in p.reused_policies] == ["mine"]
    assert all(prp.policies.overage_policy_id == "mine" for prp in of(ProductResourcePolicy, p))
    assert "Overage Chargeable" not in {pol.name for pol in of(Policy, p)}
    assert "Aggregate Usage Monthly by Sum" in {pol.name for pol in of(Policy, p)}


def test_grant_options_pick_or_create_matching_refresh_and_rollover_policies() -> None:
    grants = (GuidedGrant(D(1), ValidityUnit.MONTH, refresh_every=3, refresh_unit=PeriodUnit.MONTH),
              GuidedGrant(D(1), ValidityUnit.MONTH, refresh_every=0, rollover=False),
              GuidedGrant(D(1), ValidityUnit.NONE, maximum_rollover_count=2),
              GuidedGrant(D(1), ValidityUnit.MONTH, refresh_unit=PeriodUnit.QUARTER))
    p = plan(data(grants=grants))
    by_id = {pol.id: pol for pol in of(Policy, p)}
    made = [(by_id[g.refresh_policy_id].name if g.refresh_policy_id else None, by_id[g.rollover_policy_id].name,
             g.validity_term) for g in of(ProductUsageGrant, p)]
    assert made == [("Renew Grants Every 3 Months", "Rollover Grants without Expiry", 1),
                    ("Do Not Renew Grants", "Do Not Roll Over Grants", 1),
                    ("Renew Grants Monthly", "Rollover Grants, Expire after 2 Rollovers", None),
                    ("Renew Grants Every 1 Quarter", "Rollover Grants without Expiry", 1)]
    expiring = by_id[of(ProductUsageGrant, p)[2].rollover_policy_id]
    assert (expiring.rollover_can_expire, expiring.maximum_rollover_count) == (True, 2)


def test_a_rollover_quantity_cap_picks_a_policy_with_that_cap_and_reuses_an_identical_one() -> None:
    # GIVEN grants asking for a cap of 1,000 (twice, once with an expiry count too) and one uncapped rollover, and an
    # existing ACTIVE policy with the same cap of 1000.0 under another name
    existing = Policy("cap", PolicyKind.GRANT_ROLLOVER, "Carry up to 1k", rollover_allowed=True,
                      rollover_can_expire=False, maximum_rollover_quantity=D("1000.0"), status=RecordStatus.ACTIVE)
    grants = (GuidedGrant(D(1), ValidityUnit.MONTH, maximum_rollover_quantity=D(1000)),
              GuidedGrant(D(2), ValidityUnit.MONTH, maximum_rollover_quantity=D(1000)),
              GuidedGrant(D(3), ValidityUnit.MONTH, maximum_rollover_quantity=D(1000), maximum_rollover_count=2),
              GuidedGrant(D(4), ValidityUnit.MONTH))
    p = plan(data(grants=grants), policies=[existing])
    made = {pol.id: pol for pol in of(Policy, p)}
    chosen = [g.rollover_policy_id for g in of(ProductUsageGrant, p)]
    # THEN both plain capped grants reuse the existing policy; the one with a count gets a new capped policy; the
    # uncapped grant gets the uncapped default
    assert chosen[0] == chosen[1] == "cap" and [pol.id for pol in p.reused_policies] == ["cap"]
    both = made[chosen[2]]
    assert (both.name, both.rollover_can_expire, both.maximum_rollover_count, both.maximum_rollover_quantity) == (
        "Rollover Grants, Expire after 2 Rollovers, at most 1000 per Rollover", True, 2, D(1000))
    assert made[chosen[3]].name == "Rollover Grants without Expiry"
    assert made[chosen[3]].maximum_rollover_quantity is None


def test_a_bad_rollover_quantity_cap_is_refused_with_its_input_path() -> None:
    path = "resources.0.grants.0.maximumRolloverQuantity"
    assert refused(data(grants=(GuidedGrant(D(1), ValidityUnit.MONTH, maximum_rollover_quantity=D(-1)),))) == [
        ("NEGATIVE_QUANTITY", path)]
    assert refused(data(grants=(GuidedGrant(D(1), ValidityUnit.MONTH, maximum_rollover_quantity=D("0.0000001")),
                                ))) == [("TOO_MANY_DECIMALS", path)]
    assert refused(data(grants=(GuidedGrant(D(1), ValidityUnit.MONTH, maximum_rollover_quantity=D("1e19")),))) == [
        ("INVALID_VALUE", path)]
    assert refused(data(grants=(GuidedGrant(D(1), ValidityUnit.MONTH, rollover=False,
                                            maximum_rollover_quantity=D(5)),))) == [("INVALID_VALUE", path)]


def test_rates_form_one_base_card_with_sorted_tiers_in_the_tenant_currency_by_default() -> None:
    tiers = (RateTier(D(10), None, AdjustmentType.PERCENTAGE, D(20)), RateTier(D(0), D(10), AdjustmentType.PERCENTAGE,
                                                                                D(0)))
    p = plan(data(tier_mode=TierMode.TIERED, tiers=tiers), texts(overage_rate=None, rate_unit_code=None))
    [card] = of(RateCard, p)
    [entry] = of(RateCardEntry, p)
    assert card.type == "BASE" and card.effective_to is None and entry.rate_card_id == card.id
    assert (entry.resource_code, entry.product_code, entry.rate, entry.rate_unit_code) == ("DATA", "CELL", D("1.25"),
                                                                                           "USD")
    assert [t.lower_bound for t in entry.tiers] == [D(0), D(10)] and entry.tier_mode == TierMode.TIERED


def test_commitment_products_are_refused_with_a_pointer_to_manual_configuration() -> None:
    for kind in (UsageModelType.TOKEN_COMMITMENT, UsageModelType.QUANTITY_COMMITMENT,
                 UsageModelType.MONETARY_COMMITMENT):
        with pytest.raises(DomainError) as raised:
            plan(kind=kind)
        assert (raised.value.code, raised.value.field) == ("UNSUPPORTED_MODEL_TYPE", "usageModelType")
        assert "manual" in raised.value.message


def test_limits_are_20_resources_and_5_grants_each() -> None:
    many = [data(resource_code=f"R{i}", new_resource=NewResource(f"R{i}", "DATA")) for i in range(21)]
    assert refused(*many) == [("MAX_LIMIT_EXCEEDED", "resources")]
    assert len(of(ProductUsageResource, plan(*many[:20]))) == 20
    six = data(grants=tuple(GuidedGrant(D(1), ValidityUnit.MONTH) for _ in range(6)))
    assert refused(six) == [("MAX_LIMIT_EXCEEDED", "resources.0.grants")]


def test_every_faulty_field_is_reported_with_its_input_path() -> None:
    # GIVEN many mistakes across resources, grants and tiers
    bad_tiers = (RateTier(D(0), D(10), AdjustmentType.PERCENTAGE, D(0)),
                 RateTier(D(20), None, AdjustmentType.PERCENTAGE, D(10)))
    problems = refused(
        texts(effective_to=datetime(2025, 12, 1, tzinfo=UTC)),
        data(resource_code="NOPE"),
        data(grants=(GuidedGrant(D(-1), ValidityUnit.MONTH, unit_code="EA"),
                     GuidedGrant(D("0.0000001"), ValidityUnit.NONE, validity_term=1)),
             tier_mode=TierMode.VOLUME, tiers=bad_tiers, rate_unit_code="GB", effective_from=datetime(2027, 1, 1,
                                                                                                      tzinfo=UTC)),
        GuidedResource("VOICE", JAN, new_resource=NewResource("Voice", "MISSING"), overage_rate=None,
                       rate_unit_code="USD"),
    )
    # THEN all of them come back at once, each naming its field
    assert sorted(problems) == sorted([
        ("INVALID_RANGE", "resources.0.effectiveTo"),
        ("UNKNOWN_RESOURCE", "resources.1.resourceCode"),
        ("NEGATIVE_QUANTITY", "resources.2.grants.0.quantity"),
        ("UNIT_NOT_IN_CLASS", "resources.2.grants.0.unitCode"),
        ("TOO_MANY_DECIMALS", "resources.2.grants.1.quantity"),
        ("INVALID_VALUE", "resources.2.grants.1.validityTerm"),
        ("UNIT_NOT_IN_CLASS", "resources.2.rateUnitCode"),
        ("INVALID_RANGE", "resources.2.tiers.0"),
        ("UNKNOWN_REFERENCE", "resources.3.newResource.unitOfMeasureClassCode"),
        ("REQUIRED", "resources.3.overageRate"),
    ])


def test_existing_products_and_resources_are_checked_against_the_catalog() -> None:
    existing = Product("CELL", "Cell", UsageModelType.PACK)
    pur = ProductUsageResource("CELL:9", "CELL", "DATA", JAN, None)
    # GIVEN the product exists as a PACK with an open DATA PUR, and TEXTS already exists
    texts_resource = UsageResource("TEXTS", "Texts", "USAGE", "COUNT", "EA")  # type: ignore[arg-type]
    problems = refused(texts(), data(), product=existing, product_purs=[pur],
                       resources={"DATA": catalog().resources["DATA"], "TEXTS": texts_resource})
    assert sorted(problems) == [("DUPLICATE_CODE", "resources.0.resourceCode"),
                                ("INVALID_RANGE", "resources.1.effectiveFrom"),
                                ("INVALID_VALUE", "usageModelType")]
    # AND a matching existing product only gets new records (it is not created again)
    p = plan(data(effective_from=datetime(2030, 1, 1, tzinfo=UTC)), kind=UsageModelType.PACK, product=existing,
             product_purs=[replace(pur, effective_to=datetime(2029, 12, 31, 23, 59, 59, tzinfo=UTC))])
    assert of(Product, p) == [] and p.product == existing and len(of(ProductUsageResource, p)) == 1


def test_inactive_references_are_refused() -> None:
    retired = replace(catalog().resources["DATA"], status=RecordStatus.INACTIVE)
    units = {**catalog().units, "EUR": UnitOfMeasure("EUR", "EUR", "CURRENCY", D(1), status=RecordStatus.INACTIVE)}
    assert sorted(refused(data(), texts(rate_unit_code="EUR"), resources={"DATA": retired}, units=units)) == [
        ("INACTIVE_REFERENCE", "resources.0.resourceCode"), ("INACTIVE_REFERENCE", "resources.1.rateUnitCode")]
