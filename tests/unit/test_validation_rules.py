"""Every validator rule of DOMAIN §1.2 over a pure product snapshot: one test per rule, each with a failing case
(the finding names the exact records) and a passing case (the fix makes the finding go away)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
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
    RateCardEntry,
    RateTier,
    RecordStatus,
    ResourceCategory,
    UsageModelType,
    UsageResource,
    ValidityUnit,
)
from core.rating.model import AdjustmentType, TierMode
from core.validation import RULES, ProductSnapshot, Window, validate
from tests.unit.snapshots import END, JAN, D, pieces, snapshot


def findings(s: ProductSnapshot, rule: str, window: Window | None = None) -> list[Any]:
    result = validate(s, window)
    return [f for f in (*result.errors, *result.warnings) if f.rule == rule]


def keys(finding: Any) -> list[tuple[str, str]]:
    return [(r.object_type, r.key) for r in finding.records]


def entry(start: datetime, end: datetime | None, id: str = "card:1", **kw: Any) -> RateCardEntry:
    return RateCardEntry(id, "card", "DATA", "P", D("1.25"), "USD", start, end, **kw)


def test_a_clean_product_has_no_findings() -> None:
    # GIVEN the clean product WHEN validated THEN it is valid without warnings
    result = validate(snapshot())
    assert result.valid and result.errors == () and result.warnings == ()


def test_effectivity_mismatch_when_no_entry_overlaps_the_pur() -> None:
    # GIVEN the only rate starts after the PUR has ended
    late = entry(datetime(2027, 1, 1, tzinfo=UTC), None)
    # WHEN validated THEN one error names the PUR and the entry
    [found] = findings(snapshot(entries=[late]), "EFFECTIVITY_MISMATCH")
    assert found.code == "EFFECTIVITY_MISMATCH" and found.severity == "ERROR"
    assert keys(found) == [("ProductUsageResource", "P:1"), ("RateCardEntry", "card:1")]
    # AND an entry overlapping the PUR by one day is enough
    assert findings(snapshot(entries=[entry(END - timedelta(days=1), None)]), "EFFECTIVITY_MISMATCH") == []


def test_grant_outside_its_pur_is_an_error() -> None:
    # GIVEN a grant that runs past its PUR's end
    grant = replace(pieces()["grants"][0], effective_to=None)
    [found] = findings(snapshot(grants=[grant]), "PUR_GRANT_OVERLAP")
    assert found.code == "GRANT_OUTSIDE_PUR" and found.severity == "ERROR"
    assert keys(found) == [("ProductUsageGrant", "P:1:1"), ("ProductUsageResource", "P:1")]
    # AND one that starts before it too; inside is fine
    early = replace(pieces()["grants"][0], effective_from=JAN - timedelta(days=1))
    assert len(findings(snapshot(grants=[early]), "PUR_GRANT_OVERLAP")) == 1
    assert findings(snapshot(), "PUR_GRANT_OVERLAP") == []


def test_gap_of_more_than_12_hours_between_purs_of_a_resource_warns() -> None:
    # GIVEN a second DATA PUR starting 2 days after the first ends (its own rate covers it)
    second = ProductUsageResource("P:2", "P", "DATA", datetime(2027, 1, 2, tzinfo=UTC), None)
    rates = [entry(JAN, None)]
    [found] = findings(snapshot(purs=[pieces()["purs"][0], second], entries=rates), "GAP_BETWEEN_PURS")
    assert found.code == "PUR_GAP" and found.severity == "WARNING"
    assert keys(found) == [("ProductUsageResource", "P:1"), ("ProductUsageResource", "P:2")]
    # AND a second PUR from 00:00 the next day (a 1-second gap) is continuous
    nxt = replace(second, effective_from=datetime(2027, 1, 1, tzinfo=UTC))
    assert findings(snapshot(purs=[pieces()["purs"][0], nxt], entries=rates), "GAP_BETWEEN_PURS") == []


def test_gap_between_consecutive_rate_entries_of_a_pur_warns() -> None:
    # GIVEN two entries with a day without a rate in between
    first = entry(JAN, datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC))
    second = entry(datetime(2026, 7, 2, tzinfo=UTC), END, id="card:2")
    [found] = findings(snapshot(entries=[first, second]), "GAP_BETWEEN_RATES")
    assert found.code == "RATE_GAP" and found.severity == "WARNING"
    assert keys(found) == [("ProductUsageResource", "P:1"), ("RateCardEntry", "card:1"), ("RateCardEntry", "card:2")]
    # AND back to back (00:00 the next day) is fine
    touching = replace(second, effective_from=datetime(2026, 7, 1, tzinfo=UTC))
    assert findings(snapshot(entries=[first, touching]), "GAP_BETWEEN_RATES") == []


def test_gap_between_pur_start_and_first_rate_warns() -> None:
    # GIVEN the rate starts a day after the PUR
    [found] = findings(snapshot(entries=[entry(JAN + timedelta(days=1), END)]), "GAP_AT_PUR_START")
    assert found.code == "RATE_START_GAP" and found.severity == "WARNING"
    assert keys(found) == [("ProductUsageResource", "P:1"), ("RateCardEntry", "card:1")]
    # AND 12 hours later is tolerated
    assert findings(snapshot(entries=[entry(JAN + timedelta(hours=12), END)]), "GAP_AT_PUR_START") == []


def test_gap_between_last_rate_end_and_pur_end_warns() -> None:
    # GIVEN the rate ends a month before the PUR
    [found] = findings(snapshot(entries=[entry(JAN, END - timedelta(days=31))]), "GAP_AT_PUR_END")
    assert found.code == "RATE_END_GAP" and found.severity == "WARNING"
    assert keys(found) == [("ProductUsageResource", "P:1"), ("RateCardEntry", "card:1")]
    # AND an open-ended PUR whose rate ends warns too; an open rate never does
    open_pur = replace(pieces()["purs"][0], effective_to=None)
    grant = replace(pieces()["grants"][0], effective_to=None)
    assert len(findings(snapshot(purs=[open_pur], grants=[grant], entries=[entry(JAN, END)]),
                        "GAP_AT_PUR_END")) == 1
    assert findings(snapshot(entries=[entry(JAN, None)]), "GAP_AT_PUR_END") == []


def test_units_must_belong_to_the_resource_class_and_rates_to_money_or_tokens() -> None:
    # GIVEN a grant in minutes for a data resource, and a rate per MB
    grant = replace(pieces()["grants"][0], unit_code="MIN")
    rate = replace(pieces()["entries"][0], rate_unit_code="MB")
    found = findings(snapshot(grants=[grant], entries=[rate]), "UNIT_CONSISTENCY")
    assert {(f.code, keys(f)[0]) for f in found} == {("UNIT_NOT_IN_CLASS", ("ProductUsageGrant", "P:1:1")),
                                                    ("RATE_UNIT_NOT_MONETARY", ("RateCardEntry", "card:1"))}
    # AND a resource whose usage unit is outside its class
    odd = replace(pieces()["resources"][0], default_unit_code="MIN")
    [bad_resource] = findings(snapshot(resources=[odd]), "UNIT_CONSISTENCY")
    assert keys(bad_resource)[0] == ("UsageResource", "DATA")
    # AND a rate in a TOKEN unit is fine, as is a grant in MB
    fine = findings(snapshot(grants=[replace(grant, unit_code="MB")], entries=[replace(rate, rate_unit_code="CR")]),
                    "UNIT_CONSISTENCY")
    assert fine == []


def test_references_to_inactive_or_missing_records_are_errors() -> None:
    # GIVEN the grant's refresh policy is INACTIVE and the rate's card is missing
    policies = [replace(pieces()["policies"][0], status=RecordStatus.INACTIVE), pieces()["policies"][1]]
    found = findings(snapshot(policies=policies, rate_cards=[]), "INACTIVE_REFERENCE")
    assert {(f.code, keys(f)[0], keys(f)[1]) for f in found} == {
        ("INACTIVE_REFERENCE", ("ProductUsageGrant", "P:1:1"), ("Policy", "refresh")),
        ("MISSING_REFERENCE", ("RateCardEntry", "card:1"), ("RateCard", "card")),
    }
    # AND an ACTIVE record pointing at a DRAFT one is an error (runtime would not see the DRAFT one)
    active_resource = replace(pieces()["resources"][0], status=RecordStatus.ACTIVE)
    draft_refs = findings(snapshot(resources=[active_resource]), "INACTIVE_REFERENCE")
    assert {(keys(f)[0], keys(f)[1]) for f in draft_refs} == {
        (("UsageResource", "DATA"), ("UnitOfMeasureClass", "DATA")),
        (("UsageResource", "DATA"), ("UnitOfMeasure", "GB"))}
    # AND DRAFT pointing at DRAFT is what activation turns ACTIVE together: no finding
    assert findings(snapshot(), "INACTIVE_REFERENCE") == []


def test_chargeable_overage_needs_a_rate_entry() -> None:
    # GIVEN chargeable overage and no rate for DATA
    [found] = findings(snapshot(entries=[]), "CHARGEABLE_OVERAGE_WITHOUT_RATE")
    assert found.code == "MISSING_RATE" and keys(found) == [("ProductUsageResource", "P:1")]
    # AND with overage not chargeable, no rate is needed
    free = [pieces()["policies"][0], Policy("overage", PolicyKind.OVERAGE, "Free", chargeable=False)]
    assert findings(snapshot(entries=[], policies=free), "CHARGEABLE_OVERAGE_WITHOUT_RATE") == []


def token_plan(token_entries: list[RateCardEntry]) -> ProductSnapshot:
    """DATA converts to CREDITS tokens (10 a GB); the product grants CREDITS; rates only as given."""
    parts = pieces()
    data = replace(parts["resources"][0], token_resource_code="CREDITS", tokens_per_unit=D(10))
    credits = UsageResource("CREDITS", "Credits", ResourceCategory.TOKEN, "CREDITS", "CR")
    token_pur = ProductUsageResource("P:2", "P", "CREDITS", JAN, END)
    prp = ProductResourcePolicy("P", "P:2", PolicySet(overage_policy_id="overage"))
    return snapshot(resources=[data, credits], purs=[*parts["purs"], token_pur],
                    product_policies=[*parts["product_policies"], prp], entries=token_entries)


def test_a_resource_converted_to_tokens_is_priced_by_the_token_resources_rate() -> None:
    # GIVEN DATA converts to CREDITS and only CREDITS has a rate (no product's, so any product's chain sees it)
    credits_rate = RateCardEntry("card:9", "card", "CREDITS", None, D("0.01"), "USD", JAN, END)
    # THEN DATA needs no rate of its own, and the token rate is in the product's chain (activation flips it)
    assert findings(token_plan([credits_rate]), "CHARGEABLE_OVERAGE_WITHOUT_RATE") == []
    assert credits_rate in token_plan([credits_rate]).chain()
    # GIVEN neither has a rate THEN DATA's PUR is refused naming the token resource, and CREDITS' PUR for itself
    found = findings(token_plan([]), "CHARGEABLE_OVERAGE_WITHOUT_RATE")
    assert sorted((f.code, tuple(keys(f))) for f in found) == [
        ("MISSING_RATE", (("ProductUsageResource", "P:2"),)),
        ("MISSING_TOKEN_RATE", (("ProductUsageResource", "P:1"), ("UsageResource", "CREDITS")))]
    # GIVEN the token rate belongs to another product THEN it does not price this one
    other = RateCardEntry("card:9", "card", "CREDITS", "OTHER", D("0.01"), "USD", JAN, END)
    assert {f.code for f in findings(token_plan([other]), "CHARGEABLE_OVERAGE_WITHOUT_RATE")} == {
        "MISSING_RATE", "MISSING_TOKEN_RATE"}


def pack(*anchors: tuple[Product, list[ProductUsageResource]], entries: list[RateCardEntry] | None = None
         ) -> ProductSnapshot:
    """PACK 'K' topping up DATA without a rate of its own, beside the given anchors."""
    parts = pieces()
    pur = ProductUsageResource("K:1", "K", "DATA", JAN, END)
    grant = replace(parts["grants"][0], id="K:1:1", product_code="K", pur_id="K:1")
    return snapshot(product=Product("K", "Pack", UsageModelType.PACK), purs=[pur], grants=[grant],
                    product_policies=[], entries=entries if entries is not None else parts["entries"],
                    anchors=list(anchors))


def test_a_pack_is_priced_by_an_active_anchor_whose_wallet_it_tops_up() -> None:
    active = RecordStatus.ACTIVE
    anchor_rate = replace(pieces()["entries"][0], status=active)  # DATA at $1.25 for product P
    anchor = Product("P", "Plan", UsageModelType.ANCHOR, active)
    anchor_pur = ProductUsageResource("P:1", "P", "DATA", JAN, END, status=active)
    # GIVEN an ACTIVE anchor P with an ACTIVE PUR and rate for DATA THEN the pack needs no rate of its own
    assert findings(pack((anchor, [anchor_pur]), entries=[anchor_rate]), "CHARGEABLE_OVERAGE_WITHOUT_RATE") == []
    assert pack((anchor, [anchor_pur]), entries=[anchor_rate]).entries == ()  # P's own rate is not the pack's
    # GIVEN no anchor uses DATA yet THEN only a warning, naming the pack's PUR
    validation = validate(pack(entries=[]))
    [warned] = [w for w in validation.warnings if w.rule == "CHARGEABLE_OVERAGE_WITHOUT_RATE"]
    assert warned.code == "NO_ANCHOR_FOR_PACK" and keys(warned) == [("ProductUsageResource", "K:1")]
    assert not [e for e in validation.errors if e.rule == "CHARGEABLE_OVERAGE_WITHOUT_RATE"]
    # GIVEN the anchor is still DRAFT, or ACTIVE with a DRAFT rate, or has no rate for DATA THEN an error naming
    # the pack's PUR and the anchor to fix
    for case in ((replace(anchor, status=RecordStatus.DRAFT), [anchor_pur], [anchor_rate]),
                 (anchor, [anchor_pur], [replace(anchor_rate, status=RecordStatus.DRAFT)]),
                 (anchor, [anchor_pur], [])):
        [found] = findings(pack((case[0], case[1]), entries=case[2]), "CHARGEABLE_OVERAGE_WITHOUT_RATE")
        assert found.code == "NO_ACTIVE_ANCHOR_RATE"
        assert keys(found) == [("ProductUsageResource", "K:1"), ("Product", "P")]
    # GIVEN another pack (not an anchor) would price DATA THEN that does not count: no anchor uses DATA
    other_pack = Product("Q", "Other pack", UsageModelType.PACK, active)
    priced_by_a_pack = pack((other_pack, [replace(anchor_pur, product_code="Q")]),
                            entries=[replace(anchor_rate, product_code="Q")])
    assert priced_by_a_pack.anchors == ()
    assert [f.code for f in findings(priced_by_a_pack, "CHARGEABLE_OVERAGE_WITHOUT_RATE")] == ["NO_ANCHOR_FOR_PACK"]


def test_an_anchor_resource_with_chargeable_overage_and_no_rate_anywhere_is_still_an_error() -> None:
    # GIVEN an anchor (P) whose DATA has no rate of its own and converts to no tokens THEN MISSING_RATE as before
    [found] = findings(snapshot(entries=[]), "CHARGEABLE_OVERAGE_WITHOUT_RATE")
    assert found.severity == "ERROR" and found.code == "MISSING_RATE"


def test_tiers_must_be_ordered_contiguous_and_not_overlap() -> None:
    def tier(low: str, high: str | None) -> RateTier:
        return RateTier(D(low), D(high) if high else None, AdjustmentType.PERCENTAGE, D(10))

    # GIVEN tiers with inverted bounds, an overlap and a gap
    broken = replace(pieces()["entries"][0], tier_mode=TierMode.TIERED,
                     tiers=(tier("0", "10"), tier("8", "20"), tier("30", "25"), tier("40", None)))
    found = findings(snapshot(entries=[broken]), "TIERS")
    assert {f.code for f in found} == {"TIER_INVERTED_BOUNDS", "TIER_OVERLAP", "TIER_GAP"}
    assert all(keys(f) == [("RateCardEntry", "card:1")] for f in found)
    # AND tiers without a mode are an error too
    assert [f.code for f in findings(snapshot(entries=[replace(broken, tier_mode=None, tiers=(tier("0", None),))]),
                                     "TIERS")] == ["TIER_MODE_MISSING"]
    # AND contiguous tiers from 0 are fine
    good = replace(broken, tiers=(tier("0", "10"), tier("10", "60"), tier("60", None)))
    assert findings(snapshot(entries=[good]), "TIERS") == []


def test_commitment_products_need_a_matching_resource_and_a_commit_grant() -> None:
    # GIVEN a TOKEN_COMMITMENT product with only a USAGE resource and a plain grant
    product = Product("P", "Plan", UsageModelType.TOKEN_COMMITMENT)
    found = findings(snapshot(product=product), "COMMITMENTS")
    assert {f.code for f in found} == {"COMMITMENT_RESOURCE_MISSING", "COMMITMENT_GRANT_MISSING"}
    assert all(keys(f) == [("Product", "P")] for f in found)
    # AND a QUANTITY_COMMITMENT over the USAGE resource with a COMMIT grant is fine
    commit = replace(pieces()["grants"][0], type=GrantType.COMMIT)
    quantity = Product("P", "Plan", UsageModelType.QUANTITY_COMMITMENT)
    assert findings(snapshot(product=quantity, grants=[commit]), "COMMITMENTS") == []


def test_a_product_may_use_one_token_resource() -> None:
    # GIVEN two TOKEN resources in one product
    tokens = [UsageResource(code, code, ResourceCategory.TOKEN, "CREDITS", "CR") for code in ("CR1", "CR2")]
    purs = [ProductUsageResource(f"P:{i}", "P", r.code, JAN, END) for i, r in enumerate(tokens, start=2)]
    parts = pieces()
    s = snapshot(resources=[*parts["resources"], *tokens], purs=[*parts["purs"], *purs],
                 entries=[*parts["entries"], *(replace(parts["entries"][0], id=f"card:{r.code}", resource_code=r.code)
                                               for r in tokens)])
    [found] = findings(s, "COMMITMENTS")
    assert found.code == "MULTIPLE_TOKEN_RESOURCES"
    assert keys(found) == [("Product", "P"), ("UsageResource", "CR1"), ("UsageResource", "CR2")]
    # AND one TOKEN resource is fine
    one = snapshot(resources=[*parts["resources"], tokens[0]], purs=[*parts["purs"], purs[0]],
                   entries=[*parts["entries"], replace(parts["entries"][0], id="card:CR1", resource_code="CR1")])
    assert findings(one, "COMMITMENTS") == []


def test_a_date_range_limits_the_records_considered() -> None:
    # GIVEN a grant outside its PUR, but only in 2027
    late = ProductUsageGrant("P:1:2", "P", "P:1", GrantType.GRANT, D(1), "GB", 1, ValidityUnit.MONTH,
                             datetime(2027, 1, 1, tzinfo=UTC), None)
    s = snapshot(grants=[*pieces()["grants"], late])
    # WHEN validated over 2026 only THEN it is not considered; over all time it is
    assert findings(s, "PUR_GRANT_OVERLAP", Window(JAN, datetime(2026, 7, 1, tzinfo=UTC))) == []
    assert len(findings(s, "PUR_GRANT_OVERLAP")) == 1


def test_inactive_records_are_out_of_service_not_wrong() -> None:
    # GIVEN the grant that runs past its PUR is INACTIVE
    grant = replace(pieces()["grants"][0], effective_to=None, status=RecordStatus.INACTIVE)
    # THEN no overlap error
    assert findings(snapshot(grants=[grant]), "PUR_GRANT_OVERLAP") == []


def test_every_registered_rule_is_demonstrated_here() -> None:
    # GIVEN the rule names the tests above exercise THEN they cover every registered rule function
    demonstrated = {"effectivity_mismatch", "grant_within_pur", "gap_between_purs", "gap_between_rates",
                    "gap_at_pur_start", "gap_at_pur_end", "unit_consistency", "inactive_references",
                    "chargeable_overage_without_rate", "tiers", "commitment_shape", "one_token_resource"}
    assert {rule.__name__ for rule in RULES} == demonstrated
