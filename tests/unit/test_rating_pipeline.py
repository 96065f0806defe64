"""Rating pipeline (core.processing): the DOMAIN §5 vectors, statuses, order independence, tokens, commitments,
competing rates, PEAK, corrections and late usage — pure, against an in-memory world."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from core.catalog import AggregationMethod, AggregationPeriod, CommitmentRate, GrantType, ResourceCategory, pricing_spec
from core.catalog import UsageModelType as M
from core.processing import RatingCode
from core.rating import AdjustmentType, PriceSpec, TierMode, price
from core.subscriptions import BindingTarget
from core.usage import CorrectionKind, UsageStatus, usage_record_id
from tests.unit.rating_world import T0, TENANT, D, Store, World, drift_of, policy, statuses, tier, usage

PCT, OVERRIDE = AdjustmentType.PERCENTAGE, AdjustmentType.OVERRIDE
JAN_20 = T0 + timedelta(days=19)


def cell_phone_plan(world: World, product: str = "CELL") -> World:
    """DOMAIN §5: 4,000 texts, 2 GB, 100 minutes a month; texts $0.75, data $1.25/GB, minutes $0.10."""
    for code, cls in (("TEXTS", "COUNT"), ("DATA", "DATA"), ("MINUTES", "TIME")):
        if code not in world.resources:
            world.resource(code, cls)
    world.product(product)
    for code, qty, rate in (("TEXTS", "4000", "0.75"), ("DATA", "2", "1.25"), ("MINUTES", "100", "0.10")):
        world.grant(world.pur(product, code), qty)
        world.rate(code, rate, product=product)
    return world


@pytest.fixture
def cell() -> tuple[World, Store]:
    world = cell_phone_plan(World())
    world.subscribe("S1", "acme", "CELL")
    return world, Store(world)


# ---------------------------------------------------------------------------------------------- DOMAIN §5 vectors
def test_vector_1_texts_over_the_grant_are_priced_per_unit(cell: tuple[World, Store]) -> None:
    # GIVEN the Cell Phone Plan's 4,000 texts at $0.75 WHEN 4,500 texts are used in the month
    _, store = cell
    result = store.run([usage("a", "acme", "TEXTS", "4500")])
    # THEN 500 are overage, priced $375.00, and the grant is used up
    assert statuses(result) == [UsageStatus.PROCESSED]
    summary = store.summary("acme", "TEXTS")
    assert (summary.consumed_quantity, summary.debited_quantity, summary.overage_quantity) == (4500, 4000, 500)
    assert summary.amount == D("375.00")
    assert store.record("a").rated_amount == D("375.00")
    assert store.balance("SUBSCRIPTION:S1|TEXTS") == 0


@pytest.mark.parametrize("quantity,unit", [("102", "GB"), ("104448", "MB")])
def test_vector_1_data_in_any_unit_of_its_class_is_converted_to_gb(cell: tuple[World, Store], quantity: str,
                                                                    unit: str) -> None:
    # GIVEN 2 GB granted at $1.25/GB WHEN 102 GB arrive, as GB or as MB (1/1024 GB)
    _, store = cell
    store.run([usage("d", "acme", "DATA", quantity, unit=unit)])
    # THEN 100 GB are overage: $125.00
    summary = store.summary("acme", "DATA")
    assert (summary.consumed_quantity, summary.overage_quantity, summary.amount) == (102, 100, D("125.00"))
    assert store.record("d").quantity_in_default_unit == 102


def priced_world(rate: str, mode: TierMode | None, tiers: list, resource: str = "DATA", cls: str = "DATA") -> Store:
    world = World()
    world.resource(resource, cls)
    world.product("P")
    world.pur("P", resource)
    world.rate(resource, rate, product="P", mode=mode, tiers=tiers)
    world.subscribe("S", "acme", "P")
    return Store(world)


def test_vector_2_graduated_tiers_price_each_band_at_its_rate() -> None:
    # GIVEN $0.50/GB with tiers 0–10 0 %, 10–60 10 %, 60+ 20 % (TIERED) and no grant
    store = priced_world("0.50", TierMode.TIERED, [tier("0", "10", PCT, "0"), tier("10", "60", PCT, "10"),
                                                    tier("60", None, PCT, "20")])
    # WHEN 100 GB are used
    store.run([usage("a", "acme", "DATA", "100")])
    # THEN 10×0.50 + 50×0.45 + 40×0.40 = $43.50
    assert store.summary("acme").amount == D("43.50")


@pytest.mark.parametrize("mode,expected", [(TierMode.TIERED, "30.00"), (TierMode.VOLUME, "50.00")])
def test_vector_3_slab_and_range_of_the_same_tiers(mode: TierMode, expected: str) -> None:
    # GIVEN minutes at $0.10 up to 200 and $0.20 above (OVERRIDE)
    store = priced_world("0.10", mode, [tier("0", "200", OVERRIDE, "0.10"), tier("200", None, OVERRIDE, "0.20")],
                         "MINUTES", "TIME")
    # WHEN 250 minutes are used THEN TIERED $30.00, VOLUME $50.00
    store.run([usage("a", "acme", "MINUTES", "250")])
    assert store.summary("acme").amount == D(expected)


def test_vector_4_volume_tiers_with_flat_fees() -> None:
    # GIVEN API calls, VOLUME tiers with a $10 fee each
    store = priced_world("0.0010", TierMode.VOLUME, [
        tier("0", "10000", OVERRIDE, "0.0010", "10"), tier("10000", "50000", OVERRIDE, "0.0008", "10"),
        tier("50000", "100000", OVERRIDE, "0.0006", "10"), tier("100000", None, OVERRIDE, "0.0004", "10")],
        "CALLS", "COUNT")
    # WHEN 65,000 calls arrive in three records THEN 65,000 × 0.0006 + 10 = $49.00
    store.run([usage("a", "acme", "CALLS", "30000"), usage("b", "acme", "CALLS", "20000"),
               usage("c", "acme", "CALLS", "15000")])
    summary = store.summary("acme")
    assert summary.amount == D("49.00")
    assert sum(store.record(k).rated_amount for k in "abc") == D("49.00")


def test_vector_5_expiring_first_draws_the_pack_before_the_anchor() -> None:
    # GIVEN an anchor bucket of 4,000 texts to month end and a pack of 2,000 to week end, one ACCOUNT wallet
    world = cell_phone_plan(World())
    world.product("PACK", M.PACK)
    week_end = T0 + timedelta(days=7)
    world.grant(world.pur("PACK", "TEXTS", end=week_end), "2000")
    world.subscribe("anchor", "acme", "CELL", binding=BindingTarget.ACCOUNT)
    world.subscribe("pack", "acme", "PACK", binding=BindingTarget.ACCOUNT)
    store = Store(world)
    # WHEN 2,500 texts are used inside the week
    store.run([usage("a", "acme", "TEXTS", "2500", at=T0 + timedelta(days=3))])
    # THEN the pack is empty, the anchor holds 3,500, and there is no overage
    debited = store.debited("ACCOUNT:acme|TEXTS")
    assert sorted(debited.values()) == [500, 2000]
    assert next(q for b, q in debited.items() if b.startswith("pack/")) == 2000
    assert store.balance("ACCOUNT:acme|TEXTS") == 3500
    assert store.summary("acme", "TEXTS").overage_quantity == 0


def test_vector_6_prerated_records_add_their_amounts_and_quantities(cell: tuple[World, Store]) -> None:
    # GIVEN per-unit pricing WHEN 10 units prerated at $7.00 and 5 at $3.50 arrive
    _, store = cell
    result = store.run([usage("a", "acme", "MINUTES", "10", prerated="7.00"),
                        usage("b", "acme", "MINUTES", "5", prerated="3.50")])
    # THEN the summary's amount includes $10.50 and its prerated quantity is 15; no grant is drawn
    assert statuses(result) == [UsageStatus.PROCESSED] * 2
    summary = store.summary("acme", "MINUTES")
    assert (summary.prerated_amount, summary.prerated_quantity, summary.amount) == (D("10.50"), 15, D("10.50"))
    assert summary.debited_quantity == 0


# ---------------------------------------------------------------------------------------------- statuses
def test_a_prerated_record_on_tiered_pricing_is_an_error_saying_so() -> None:
    # GIVEN tiered pricing WHEN a prerated record arrives THEN ERROR naming per-unit pricing, nothing booked
    store = priced_world("0.50", TierMode.TIERED, [tier("0", None, PCT, "0")])
    result = store.run([usage("a", "acme", "DATA", "10", prerated="5.00")])
    outcome = result.outcomes[0]
    assert (outcome.status, outcome.error_code) == (UsageStatus.ERROR, RatingCode.PRERATED_NEEDS_PER_UNIT_PRICING)
    assert "per-unit pricing" in (outcome.error_message or "")
    assert store.summaries == {}


@pytest.mark.parametrize("rate,quantity", [("1E+100", "900000000000000"), ("1E+30", "5000"),
                                           ("999999999999999999999999999", "10000")])
def test_a_record_whose_pricing_leaves_decimal_range_fails_alone(rate: str, quantity: str) -> None:
    # GIVEN a text rate no input passes any more (as stored before the bounds existed), and good usage around it
    world = cell_phone_plan(World())
    world.entries[0] = replace(world.entries[0], rate=D(rate))
    world.subscribe("S1", "acme", "CELL")
    store = Store(world)
    # WHEN a batch holds text overage priced at it between a record within the grant and data overage
    result = store.run([usage("small", "acme", "TEXTS", "100"), usage("huge", "acme", "TEXTS", quantity),
                        usage("data", "acme", "DATA", "3", unit="GB")])
    # THEN that record alone is ERROR RATING_FAILED, saying what to do; the others are rated, nothing of it booked
    outcome = result.outcomes[1]
    assert (outcome.status, outcome.error_code) == (UsageStatus.ERROR, RatingCode.RATING_FAILED)
    assert "set the record back to NEW" in (outcome.error_message or "")
    assert statuses(result) == [UsageStatus.PROCESSED, UsageStatus.ERROR, UsageStatus.PROCESSED]
    assert store.summary("acme", "TEXTS").consumed_quantity == 100
    assert store.summary("acme", "DATA").amount == D("1.25")
    assert store.balance("SUBSCRIPTION:S1|TEXTS") == 3900
    assert drift_of(store) == []


def test_a_billing_term_beyond_the_calendar_fails_its_records_not_the_batch() -> None:
    # GIVEN two accounts, one subscribed with a billing term of 2^31 months (stored before terms were bounded)
    from core.processing.gate import booking_period

    world = cell_phone_plan(World())
    world.subscribe("S1", "acme", "CELL")
    world.subscribe("S2", "huge", "CELL")
    world.subscriptions["huge"] = [replace(world.subscriptions["huge"][0], billing_term=2 ** 31)]
    store = Store(world)
    records = [usage("a", "acme", "TEXTS", "10"), usage("b", "huge", "TEXTS", "10")]
    # WHEN its record's period is asked for THEN it has none (the period gate and storage's prediction skip it)
    assert booking_period(records[1], world.view(), tuple(world.subscriptions["huge"])) is None
    # AND WHEN the batch is rated THEN that record alone is ERROR RATING_FAILED
    result = store.run(records)
    assert [(o.status, o.error_code) for o in result.outcomes] == [
        (UsageStatus.PROCESSED, None), (UsageStatus.ERROR, RatingCode.RATING_FAILED)]


@pytest.mark.parametrize("record,status,code", [
    (usage("a", "nobody", "TEXTS", "1"), UsageStatus.WARNING_UNRATED, RatingCode.NO_SUBSCRIPTION),
    (usage("b", "acme", "TEXTS", "1", subscription="S9"), UsageStatus.WARNING_UNRATED,
     RatingCode.UNKNOWN_SUBSCRIPTION),
    (usage("c", "acme", "TEXTS", "1", at=T0 - timedelta(days=1)), UsageStatus.WARNING_UNRATED,
     RatingCode.NOT_COVERED),
    (usage("d", "acme", "DATA", "1", unit="EA"), UsageStatus.ERROR, RatingCode.UNIT_NOT_IN_CLASS),
    (usage("e", "acme", "DATA", "1", unit="PB"), UsageStatus.ERROR, RatingCode.UNKNOWN_UNIT),
    (usage("f", "acme", "SMOKE", "1"), UsageStatus.ERROR, RatingCode.UNKNOWN_RESOURCE),
])
def test_records_that_cannot_be_rated_get_a_status_code_and_an_actionable_message(
        cell: tuple[World, Store], record, status, code) -> None:  # type: ignore[no-untyped-def]
    # GIVEN the Cell Phone Plan for acme WHEN a record that cannot be rated arrives
    _, store = cell
    outcome = store.run([record]).outcomes[0]
    # THEN it gets the status and code, a message that says what to do, and changes nothing
    assert (outcome.status, outcome.error_code) == (status, code)
    assert "NEW" in (outcome.error_message or "") or "amend" in (outcome.error_message or "")
    assert store.summaries == {} and store.counters == {}


def test_chargeable_overage_without_a_rate_is_unrated_and_draws_nothing() -> None:
    # GIVEN a grant of 10 and no rate card entry WHEN 15 are used
    world = World()
    world.resource("TEXTS", "COUNT")
    world.product("P")
    world.grant(world.pur("P", "TEXTS"), "10")
    world.subscribe("S", "acme", "P")
    store = Store(world)
    outcome = store.run([usage("a", "acme", "TEXTS", "15")]).outcomes[0]
    # THEN WARNING_UNRATED NO_RATE, and the grant is untouched
    assert (outcome.status, outcome.error_code) == (UsageStatus.WARNING_UNRATED, RatingCode.NO_RATE)
    assert store.counters == {}
    # AND usage the grant covers needs no rate
    assert store.run([usage("b", "acme", "TEXTS", "10")]).outcomes[0].status == UsageStatus.PROCESSED


def test_overage_that_is_not_chargeable_is_recorded_at_zero() -> None:
    # GIVEN an overage policy "not chargeable" WHEN usage exceeds the grant
    world = World()
    world.resource("TEXTS", "COUNT")
    world.product("P")
    pur = world.pur("P", "TEXTS", policy=policy(overage_chargeable=False))
    world.grant(pur, "100")
    world.rate("TEXTS", "0.75", product="P")
    world.subscribe("S", "acme", "P")
    store = Store(world)
    store.run([usage("a", "acme", "TEXTS", "150")])
    # THEN the overage is recorded but priced 0
    summary = store.summary("acme")
    assert (summary.overage_quantity, summary.amount) == (50, 0)


# ---------------------------------------------------------------------------------------------- order independence
@pytest.mark.parametrize("seed", range(6))
def test_amounts_do_not_depend_on_order_or_batching(seed: int) -> None:
    # GIVEN graduated tiers and a grant, and a random set of records
    rng = random.Random(seed)
    quantities = [str(rng.randint(1, 40)) for _ in range(30)]

    def world() -> Store:
        w = World()
        w.resource("DATA", "DATA")
        w.product("P")
        w.grant(w.pur("P", "DATA"), "50")
        w.rate("DATA", "0.37", product="P", mode=TierMode.TIERED,
               tiers=[tier("0", "100", PCT, "0"), tier("100", "300", PCT, "15", "2"), tier("300", None, PCT, "33")])
        w.subscribe("S", "acme", "P")
        return Store(w)

    records = [usage(f"k{i}", "acme", "DATA", q) for i, q in enumerate(quantities)]
    # WHEN they are rated in one batch, and shuffled in random batches
    one = world()
    one.run(records)
    shuffled = records[:]
    rng.shuffle(shuffled)
    many = world()
    while shuffled:
        size = rng.randint(1, 7)
        many.run(shuffled[:size])
        shuffled = shuffled[size:]
    # THEN both summaries equal price(total overage), and the records' amounts add up to it
    spec = pricing_spec(one.world.entries[0])
    assert isinstance(spec, PriceSpec) and spec.tier_mode == TierMode.TIERED
    total = sum(D(q) for q in quantities)
    expected = price(spec, total - 50)
    for store in (one, many):
        summary = store.summary("acme")
        assert (summary.consumed_quantity, summary.overage_quantity, summary.amount) == (total, total - 50, expected)
        assert sum(r.rated_amount for r in store.records.values()) == expected
        assert drift_of(store) == []


# ---------------------------------------------------------------------------------------------- competing rates
def test_on_a_shared_wallet_the_most_recently_started_subscription_sets_the_rate() -> None:
    # GIVEN two ACCOUNT-bound subscriptions with different rates for texts, the second started later
    world = World()
    world.resource("TEXTS", "COUNT")
    for product, rate in (("OLD", "0.50"), ("NEW", "0.90")):
        world.product(product)
        world.pur(product, "TEXTS")
        world.rate("TEXTS", rate, product=product)
    world.subscribe("s-old", "acme", "OLD", binding=BindingTarget.ACCOUNT)
    world.subscribe("s-new", "acme", "NEW", start=T0 + timedelta(days=2), binding=BindingTarget.ACCOUNT)
    store = Store(world)
    # WHEN 10 texts are used after both started THEN the newer subscription's $0.90 applies
    store.run([usage("a", "acme", "TEXTS", "10")])
    assert store.summary("acme").amount == D("9.00")


def test_competing_rates_of_subscriptions_started_together_go_to_the_cheaper() -> None:
    # GIVEN two subscriptions started at the same time with $0.90 and $0.60
    world = World()
    world.resource("TEXTS", "COUNT")
    for product, rate in (("A", "0.90"), ("B", "0.60")):
        world.product(product)
        world.pur(product, "TEXTS")
        world.rate("TEXTS", rate, product=product)
        world.subscribe(f"s-{product}", "acme", product, binding=BindingTarget.ACCOUNT)
    store = Store(world)
    # WHEN 10 texts are used THEN the cheaper rate wins
    store.run([usage("a", "acme", "TEXTS", "10")])
    assert store.summary("acme").amount == D("6.00")


def test_a_named_subscription_is_the_only_one_matched() -> None:
    # GIVEN two SELF subscriptions of the same plan WHEN usage names the first
    world = cell_phone_plan(World())
    world.subscribe("S1", "acme", "CELL")
    world.subscribe("S2", "acme", "CELL", start=T0 + timedelta(days=1))
    store = Store(world)
    store.run([usage("a", "acme", "TEXTS", "100", subscription="S1")])
    # THEN S1's wallet pays and S1's summary holds it
    assert store.balance("SUBSCRIPTION:S1|TEXTS") == 3900
    assert store.summary("acme").binding_target == "SUBSCRIPTION:S1"


def test_of_several_own_wallets_the_newest_that_holds_anything_pays() -> None:
    # GIVEN two SELF subscriptions of a 100-text plan, the newer one's texts used up already
    world = World()
    world.resource("TEXTS", "COUNT")
    world.product("P")
    world.grant(world.pur("P", "TEXTS"), "100")
    world.rate("TEXTS", "0.75", product="P")
    world.subscribe("old", "acme", "P")
    world.subscribe("new", "acme", "P", start=T0 + timedelta(days=1))
    store = Store(world)
    store.run([usage("a", "acme", "TEXTS", "100", subscription="new")])
    # WHEN 30 texts arrive without naming a subscription
    store.run([usage("b", "acme", "TEXTS", "30")])
    # THEN the older subscription's wallet pays them: no overage, its summary holds them
    assert store.record("b").wallet_id == "SUBSCRIPTION:old|TEXTS"
    assert (store.record("b").debited_quantity, store.record("b").overage_quantity) == (30, 0)
    assert store.summaries[("acme", store.record("b").summary_id or "")].binding_target == "SUBSCRIPTION:old"
    # AND once every wallet is empty, the newest pays (as overage)
    store.run([usage("c", "acme", "TEXTS", "80")])
    store.run([usage("d", "acme", "TEXTS", "5")])
    assert store.record("d").summary_id and "SUBSCRIPTION:new" in store.record("d").summary_id
    assert drift_of(store) == []


# ---------------------------------------------------------------------------------------------- tokens, commitments
def test_tokens_are_drawn_from_token_grants_and_token_overage_is_priced_in_currency() -> None:
    # GIVEN API calls worth 2 credits each, a token commitment of 100 credits, credits at $0.05 over it
    world = World()
    world.resource("CREDITS", "CREDITS", category=ResourceCategory.TOKEN)
    world.resource("CALLS", "COUNT", token="CREDITS", tokens_per_unit="2")
    world.product("TOK", M.TOKEN_COMMITMENT)
    world.pur("TOK", "CALLS")
    world.grant(world.pur("TOK", "CREDITS"), "100", kind=GrantType.COMMIT)
    world.rate("CREDITS", "0.05", product="TOK")
    world.subscribe("S", "acme", "TOK")
    store = Store(world)
    # WHEN 80 calls are made (160 credits)
    store.run([usage("a", "acme", "CALLS", "80")])
    # THEN 100 credits come from the commitment, 60 are overage at $0.05 = $3.00, summarized as credits
    summary = store.summary("acme")
    assert (summary.resource_code, summary.unit_code) == ("CREDITS", "CR")
    assert (summary.consumed_quantity, summary.debited_quantity, summary.overage_quantity) == (160, 100, 60)
    assert summary.amount == D("3.00")


def commitment_world(commitment_rate: CommitmentRate) -> Store:
    world = World()
    world.resource("TEXTS", "COUNT")
    world.product("ANCHOR")
    world.pur("ANCHOR", "TEXTS")
    world.rate("TEXTS", "0.75", product="ANCHOR")
    world.product("COMMIT", M.QUANTITY_COMMITMENT)
    world.grant(world.pur("COMMIT", "TEXTS", policy=policy(commitment_rate=commitment_rate)), "1000",
                kind=GrantType.COMMIT)
    world.rate("TEXTS", "0.40", product="COMMIT")
    world.subscribe("a", "acme", "ANCHOR", binding=BindingTarget.ACCOUNT)
    world.subscribe("c", "acme", "COMMIT", binding=BindingTarget.ACCOUNT, start=T0 + timedelta(days=1))
    return Store(world)


@pytest.mark.parametrize("rule,amount", [(CommitmentRate.LOWEST_COMMITMENT_RATE, "40.00"),
                                         (CommitmentRate.BOUNDED_OBJECT_RATE, "75.00")])
def test_overage_after_a_quantity_commitment_uses_the_commitment_policy(rule: CommitmentRate, amount: str) -> None:
    # GIVEN an anchor at $0.75 and a 1,000-text commitment at $0.40 sharing the account's wallet
    store = commitment_world(rule)
    # WHEN 1,100 texts are used
    store.run([usage("x", "acme", "TEXTS", "1100", at=T0 + timedelta(days=5))])
    # THEN the commitment pays 1,000 and the 100 over it are priced per the commitment policy
    summary = store.summary("acme")
    assert (summary.debited_quantity, summary.overage_quantity, summary.amount) == (1000, 100, D(amount))


def test_a_monetary_commitment_pays_the_priced_amount_until_it_is_used_up() -> None:
    # GIVEN texts at $1.00 and a $50 monetary commitment on the account
    world = World()
    world.resource("TEXTS", "COUNT")
    world.resource("SPEND", "CURRENCY", category=ResourceCategory.CURRENCY)
    world.product("P")
    world.pur("P", "TEXTS")
    world.rate("TEXTS", "1.00", product="P")
    world.product("MON", M.MONETARY_COMMITMENT)
    world.grant(world.pur("MON", "SPEND"), "50", kind=GrantType.COMMIT)
    world.subscribe("p", "acme", "P", binding=BindingTarget.ACCOUNT)
    world.subscribe("m", "acme", "MON", binding=BindingTarget.ACCOUNT)
    store = Store(world)
    # WHEN 80 texts are used
    store.run([usage("a", "acme", "TEXTS", "30"), usage("b", "acme", "TEXTS", "50")])
    # THEN $80 is rated, $50 of it is paid by the commitment, and $30 is left to bill
    summary = store.summary("acme")
    assert (summary.rated_amount, summary.committed_amount, summary.amount) == (D("80.00"), D("50.00"), D("30.00"))
    assert store.balance("ACCOUNT:acme|SPEND") == 0


# ---------------------------------------------------------------------------------------------- PEAK
def test_peak_aggregation_keeps_the_largest_value_and_draws_only_its_rises() -> None:
    # GIVEN seats aggregated by PEAK per month, 10 granted, $5 per seat over
    world = World()
    world.resource("SEATS", "COUNT")
    world.product("P")
    world.grant(world.pur("P", "SEATS", policy=policy(aggregation_method=AggregationMethod.PEAK)), "10")
    world.rate("SEATS", "5", product="P")
    world.subscribe("S", "acme", "P")
    store = Store(world)
    # WHEN the seat count is reported as 8, 14, 12, 13 (in two batches)
    store.run([usage("a", "acme", "SEATS", "8"), usage("b", "acme", "SEATS", "14")])
    store.run([usage("c", "acme", "SEATS", "12"), usage("d", "acme", "SEATS", "13")])
    # THEN the summary's consumed quantity is the peak 14: 10 debited, 4 over at $5
    summary = store.summary("acme")
    assert (summary.consumed_quantity, summary.debited_quantity, summary.overage_quantity) == (14, 10, 4)
    assert (summary.amount, summary.usage_count) == (D("20.00"), 4)


def test_daily_peak_sums_each_days_peak() -> None:
    # GIVEN PEAK per DAY, no grant, $1 each
    world = World()
    world.resource("SEATS", "COUNT")
    world.product("P")
    world.pur("P", "SEATS", policy=policy(aggregation_method=AggregationMethod.PEAK,
                                          aggregation_period=AggregationPeriod.DAILY))
    world.rate("SEATS", "1", product="P")
    world.subscribe("S", "acme", "P")
    store = Store(world)
    day = T0 + timedelta(days=3)
    # WHEN day 1 peaks at 5 and day 2 at 7
    store.run([usage("a", "acme", "SEATS", "5", at=day), usage("b", "acme", "SEATS", "3", at=day + timedelta(hours=2)),
               usage("c", "acme", "SEATS", "7", at=day + timedelta(days=1))])
    # THEN 12 are billed
    assert store.summary("acme").consumed_quantity == 12
    assert store.summary("acme").amount == D("12.00")


# ---------------------------------------------------------------------------------------------- corrections, late usage
def test_voiding_a_record_gives_back_its_debits_and_reprices_the_summary(cell: tuple[World, Store]) -> None:
    # GIVEN 4,500 texts rated ($375) in two records
    _, store = cell
    store.run([usage("a", "acme", "TEXTS", "3000"), usage("b", "acme", "TEXTS", "1500")])
    # WHEN the second is voided
    result = store.run([usage("v", "acme", "TEXTS", None, correction_of=store.record("b").id,
                              kind=CorrectionKind.VOID)])
    # THEN the summary is that of 3,000 texts: no overage, nothing to pay, 1,000 texts back in the wallet
    assert statuses(result) == [UsageStatus.PROCESSED]
    summary = store.summary("acme")
    assert (summary.consumed_quantity, summary.overage_quantity, summary.amount, summary.usage_count) == (
        3000, 0, 0, 1)
    assert store.balance("SUBSCRIPTION:S1|TEXTS") == 1000
    assert store.record("b").corrected_by == store.record("v").id
    # AND the records (including the correction) still add up to the summary, and nothing drifted
    assert sum(r.rated_amount or 0 for r in store.records.values()) == summary.amount
    assert drift_of(store) == []


def test_amending_a_record_replaces_its_effect(cell: tuple[World, Store]) -> None:
    # GIVEN 4,500 texts in one record WHEN it is amended to 4,100
    _, store = cell
    store.run([usage("a", "acme", "TEXTS", "4500")])
    store.run([usage("m", "acme", "TEXTS", "4100", correction_of=store.record("a").id, kind=CorrectionKind.AMEND)])
    # THEN the summary is that of 4,100 texts: $75
    summary = store.summary("acme")
    assert (summary.consumed_quantity, summary.overage_quantity, summary.amount, summary.usage_count) == (
        4100, 100, D("75.00"), 1)
    assert store.balance("SUBSCRIPTION:S1|TEXTS") == 0
    # AND a second correction of the same original is refused
    again = store.run([usage("m2", "acme", "TEXTS", None, correction_of=store.record("a").id,
                             kind=CorrectionKind.VOID)]).outcomes[0]
    assert (again.status, again.error_code) == (UsageStatus.ERROR, RatingCode.ALREADY_CORRECTED)
    assert drift_of(store) == []


def test_a_correction_whose_original_is_still_new_rates_the_original_first(cell: tuple[World, Store]) -> None:
    # GIVEN an original stored NEW, not yet rated, and its void in the same batch's stream
    _, store = cell
    original = usage("a", "acme", "TEXTS", "4500")
    store.records[original.id] = original
    result = store.run([usage("v", "acme", "TEXTS", None, correction_of=original.id, kind=CorrectionKind.VOID)])
    # THEN the original is rated, then reversed: nothing is left
    assert [o.record_id for o in result.outcomes] == [original.id, store.record("v").id]
    summary = store.summary("acme")
    assert (summary.consumed_quantity, summary.amount, summary.usage_count) == (0, 0, 0)
    assert store.balance("SUBSCRIPTION:S1|TEXTS") == 4000


def test_correcting_a_closed_period_books_an_adjustment_into_the_current_one(cell: tuple[World, Store]) -> None:
    # GIVEN January's 4,500 texts ($375) rated, and January closed (Feb 4 is past Jan 31 + 3 days)
    _, store = cell
    store.run([usage("a", "acme", "TEXTS", "4500")])
    february = T0 + timedelta(days=35)
    # WHEN the record is voided in February
    store.run([usage("v", "acme", "TEXTS", None, correction_of=store.record("a").id, kind=CorrectionKind.VOID,
                     at=T0 + timedelta(days=5))], now=february)
    # THEN January is unchanged and February holds a −$375 adjustment with the texts given back
    jan = store.summaries[("acme", store.record("a").summary_id or "")]
    assert jan.amount == D("375.00")
    feb = next(s for s in store.summaries.values() if s.period_start.month == 2)
    assert (feb.adjustment_amount, feb.amount, feb.consumed_quantity, feb.usage_count) == (
        D("-375.00"), D("-375.00"), -4500, -1)
    assert store.balance("SUBSCRIPTION:S1|TEXTS") == 4000
    assert drift_of(store) == []


@pytest.mark.parametrize("state", ["closed early", "invoiced"])
@pytest.mark.parametrize("kind", [CorrectionKind.VOID, CorrectionKind.AMEND])
def test_correcting_a_period_closed_early_or_invoiced_books_an_adjustment_into_the_current_one(
        cell: tuple[World, Store], state: str, kind: CorrectionKind) -> None:
    from core.summaries import close_now, mark_invoiced

    # GIVEN January's 4,500 texts ($375) rated, and January closed on Feb 2 ("invoice now", its waiting period
    # runs to Feb 4) — and then invoiced
    _, store = cell
    store.run([usage("a", "acme", "TEXTS", "4500", at=T0 + timedelta(days=5))])
    feb_2 = T0 + timedelta(days=32)
    ref = ("acme", store.record("a").summary_id or "")
    store.summaries[ref] = close_now(store.summaries[ref], feb_2)
    if state == "invoiced":
        store.summaries[ref] = mark_invoiced(store.summaries[ref], "INV-1", feb_2)
    january = store.summaries[ref]
    # WHEN the record is voided, or amended to 4,100 texts, still inside January's waiting period
    quantity = "4100" if kind == CorrectionKind.AMEND else None
    store.run([usage("c", "acme", "TEXTS", quantity, correction_of=store.record("a").id, kind=kind,
                     at=T0 + timedelta(days=5))], now=feb_2 + timedelta(hours=1))
    # THEN January is exactly as it was closed, and February holds the −$375 adjustment (and, for the amendment,
    # the 4,100 texts rated again against January's grant: 100 over, $75), with the correction's January dates
    assert store.summaries[ref] == january
    correction = store.record("c")
    feb = store.summaries[("acme", correction.summary_id or "")]
    assert feb.period_start == T0 + timedelta(days=31) and feb.status.value == "OPEN"
    assert feb.adjustment_amount == D("-375.00")
    assert feb.amount == (D("-300.00") if kind == CorrectionKind.AMEND else D("-375.00"))
    assert (correction.start_time, correction.end_time) == (T0 + timedelta(days=5), T0 + timedelta(days=5))
    assert store.balance("SUBSCRIPTION:S1|TEXTS") == (0 if kind == CorrectionKind.AMEND else 4000)
    assert drift_of(store) == []


def test_late_usage_rated_after_its_period_closed_lands_in_the_current_period(cell: tuple[World, Store]) -> None:
    # GIVEN a January record rated only in February, after January closed
    _, store = cell
    store.run([usage("a", "acme", "TEXTS", "10", at=T0 + timedelta(days=30))], now=T0 + timedelta(days=40))
    # THEN it is booked in February's summary, keeping its January date; January's summary is never created
    summary = store.summary("acme")
    assert summary.period_start.month == 2
    assert store.record("a").end_time.month == 1


def test_a_record_corrected_already_is_not_rated_again(cell: tuple[World, Store]) -> None:
    # GIVEN a voided record WHEN it is sent back to NEW THEN it is an ERROR and nothing changes
    _, store = cell
    store.run([usage("a", "acme", "TEXTS", "100")])
    store.run([usage("v", "acme", "TEXTS", None, correction_of=store.record("a").id, kind=CorrectionKind.VOID)])
    again = replace(store.record("a"), status=UsageStatus.NEW, attempt=1)
    outcome = store.run([again]).outcomes[0]
    assert (outcome.status, outcome.error_code) == (UsageStatus.ERROR, RatingCode.ALREADY_CORRECTED)
    assert store.summary("acme").consumed_quantity == Decimal(0)


@pytest.mark.parametrize("seed", range(4))
def test_random_usage_voids_and_amends_never_drift(seed: int) -> None:
    # GIVEN graduated pricing over a grant, and a random stream of usage, voids and amends in random batches
    rng = random.Random(seed)
    world = World()
    world.resource("DATA", "DATA")
    world.product("P")
    world.grant(world.pur("P", "DATA"), "40")
    world.rate("DATA", "0.50", product="P", mode=TierMode.TIERED,
               tiers=[tier("0", "60", PCT, "0"), tier("60", None, PCT, "25")])
    world.subscribe("S", "acme", "P")
    store = Store(world)
    live: dict[str, D] = {}
    events = []
    for i in range(40):
        if live and rng.random() < 0.3:
            target = rng.choice(sorted(live))
            if rng.random() < 0.5:
                events.append(usage(f"v{i}", "acme", "DATA", None, correction_of=store_id(target),
                                    kind=CorrectionKind.VOID))
                del live[target]
            else:
                qty = D(rng.randint(1, 30))
                events.append(usage(f"m{i}", "acme", "DATA", str(qty), correction_of=store_id(target),
                                    kind=CorrectionKind.AMEND))
                del live[target]
                live[f"m{i}"] = qty
        else:
            qty = D(rng.randint(1, 30))
            events.append(usage(f"u{i}", "acme", "DATA", str(qty)))
            live[f"u{i}"] = qty
    # WHEN they are rated in order, in random batches
    while events:
        size = rng.randint(1, 6)
        store.run(events[:size])
        events = events[size:]
    # THEN the summary is exactly that of the usage still standing, and nothing drifted
    total = sum(live.values(), D(0))
    summary = store.summary("acme")
    spec = pricing_spec(world.entries[0])
    assert (summary.consumed_quantity, summary.usage_count) == (total, len(live))
    assert summary.overage_quantity == max(D(0), total - 40)
    assert summary.amount == price(spec, max(D(0), total - 40))
    assert drift_of(store) == []


def store_id(key: str) -> str:
    return usage_record_id(TENANT, key)


# ---------------------------------------------------------------------------------------------- the PERIOD_CLOSED gate
def test_the_gate_closes_a_period_after_its_waiting_period_or_once_its_summary_is_not_open(
        cell: tuple[World, Store]) -> None:
    from core.processing.gate import booking_period, is_closed, shortest_delay, surely_open
    from core.summaries import close

    world, store = cell
    record = usage("a", "acme", "TEXTS", "10", at=T0 + timedelta(days=30))
    booking = booking_period(record, world.view(), tuple(world.subscriptions["acme"]))
    assert booking is not None and booking.closes_at == T0 + timedelta(days=34)
    # GIVEN January's usage WHEN asked on Feb 3 THEN open; on Feb 4 THEN closed
    assert not is_closed(booking, None, T0 + timedelta(days=33, hours=23))
    assert is_closed(booking, None, T0 + timedelta(days=34))
    # AND a summary closed early would close it at once (none can close before its time, so: never early)
    store.run([record], now=T0 + timedelta(days=31))
    summary = store.summary("acme")
    assert not is_closed(booking, summary, T0 + timedelta(days=32))
    assert is_closed(booking, close(summary, T0 + timedelta(days=35)), T0 + timedelta(days=33))
    # AND usage younger than the shortest delay is open whatever its period; an unattributable record never closes
    assert shortest_delay([]) == 3
    assert surely_open(record, 3, T0 + timedelta(days=32, hours=23)) and not surely_open(record, 3, T0 + timedelta(
        days=33))
    assert booking_period(usage("b", "nobody", "TEXTS", "1"), world.view(), ()) is None


def test_usage_of_a_period_closed_early_is_checked_even_when_younger_than_the_shortest_delay(
        cell: tuple[World, Store]) -> None:
    from core.processing.gate import EarlyClose, booking_period, is_closed, surely_open
    from core.summaries import close_now

    # GIVEN January's usage of Jan 31, and January closed on Feb 1 ("invoice now")
    world, store = cell
    record = usage("a", "acme", "TEXTS", "10", at=T0 + timedelta(days=30))
    store.run([record], now=T0 + timedelta(days=30, hours=1))
    feb_1 = T0 + timedelta(days=31)
    closed = close_now(store.summary("acme"), feb_1)
    early = [EarlyClose("acme", closed.period_start, closed.period_end, closed.closes_at)]
    now = feb_1 + timedelta(hours=2)
    # THEN January's usage is no longer surely open for that account (it is looked up, and found closed) ...
    assert surely_open(record, 3, now) and not surely_open(record, 3, now, early)
    booking = booking_period(record, world.view(), tuple(world.subscriptions["acme"]))
    assert booking is not None and is_closed(booking, closed, now)
    # ... while another account's, and February's, still need no reads
    assert surely_open(usage("b", "other", "TEXTS", "1", at=T0 + timedelta(days=30)), 3, now, early)
    assert surely_open(usage("c", "acme", "TEXTS", "1", at=feb_1 + timedelta(hours=1)), 3, now, early)
