"""Rating: DOMAIN §5 vectors 1–4, tier boundaries and flat fees, tier validation, unit conversion, and properties."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from core.rating import (
    AdjustmentType,
    PriceSpec,
    RateTier,
    TierMode,
    TierProblemKind,
    convert,
    price,
    price_increment,
    validate_tiers,
)

D = Decimal
PCT, AMT, OVR = AdjustmentType.PERCENTAGE, AdjustmentType.AMOUNT, AdjustmentType.OVERRIDE


def tier(lower, upper, kind=OVR, value="0", fee=None) -> RateTier:
    return RateTier(D(lower), None if upper is None else D(upper), kind, D(value), None if fee is None else D(fee))


GRADUATED_DATA = (tier(0, 10, PCT, "0"), tier(10, 60, PCT, "10"), tier(60, None, PCT, "20"))
MINUTES = (tier(0, 200, OVR, "0.10"), tier(200, None, OVR, "0.20"))
API_CALLS = (
    tier(0, 10_000, OVR, "0.0010", "10"),
    tier(10_000, 50_000, OVR, "0.0008", "10"),
    tier(50_000, 100_000, OVR, "0.0006", "10"),
    tier(100_000, None, OVR, "0.0004", "10"),
)


# --- DOMAIN §5 vectors ---------------------------------------------------------------------------------------


def test_vector_1_text_overage_is_priced_per_unit():
    # GIVEN texts at $0.75 and 4,000 granted WHEN 4,500 are sent THEN the 500 overage costs $375.00
    assert price(PriceSpec(D("0.75"), "USD"), D(4500) - D(4000)) == D("375.00")


def test_vector_1_data_overage_is_the_same_in_gb_and_in_mb():
    # GIVEN data at $1.25/GB and 2 GB granted
    spec = PriceSpec(D("1.25"), "USD")
    # WHEN 102 GB are used, or the same sent as 104,448 MB with MB = 1/1024 GB
    in_gb = convert(D(102), 1, 1)
    in_mb = convert(D(104_448), Fraction(1, 1024), 1)
    # THEN both are 102 GB and the 100 GB of overage costs $125.00
    assert in_mb == in_gb == D(102)
    assert price(spec, in_mb - 2) == price(spec, in_gb - 2) == D("125.00")


def test_vector_2_graduated_percentage_tiers():
    # GIVEN $0.50/GB with 0 %, 10 %, 20 % graduated tiers WHEN 100 GB of overage THEN 5 + 22.50 + 16 = $43.50
    assert price(PriceSpec(D("0.50"), "USD", TierMode.TIERED, GRADUATED_DATA), D(100)) == D("43.50")


def test_vector_3_slab_versus_range():
    # GIVEN $0.10 for the first 200 minutes and $0.20 above WHEN 250 minutes of overage
    # THEN TIERED (slab) is $30.00 and VOLUME (range) is $50.00
    assert price(PriceSpec(D("0.10"), "USD", TierMode.TIERED, MINUTES), D(250)) == D("30.00")
    assert price(PriceSpec(D("0.10"), "USD", TierMode.VOLUME, MINUTES), D(250)) == D("50.00")


def test_vector_4_volume_with_flat_fees():
    # GIVEN volume tiers for API calls, each with a $10 flat fee WHEN 65,000 calls THEN 65,000 × 0.0006 + 10 = $49.00
    assert price(PriceSpec(D("0.0010"), "USD", TierMode.VOLUME, API_CALLS), D(65_000)) == D("49.00")


# --- boundaries, fees, rounding ------------------------------------------------------------------------------


def test_a_total_on_an_upper_bound_stays_in_that_band():
    # GIVEN volume tiers WHEN the total is exactly 10,000 THEN the first band applies (0.0010 + fee)
    spec = PriceSpec(D("0.0010"), "USD", TierMode.VOLUME, API_CALLS)
    assert price(spec, D(10_000)) == D("20.00")
    # ... and one more call moves every call to the second band
    assert price(spec, D(10_001)) == D("18.00")


def test_graduated_flat_fees_count_only_reached_tiers():
    # GIVEN graduated tiers with $10 fees WHEN the quantity ends exactly on the first upper bound
    spec = PriceSpec(D("0.0010"), "USD", TierMode.TIERED, API_CALLS)
    # THEN only the first fee is charged; one unit more reaches the second tier and its fee
    assert price(spec, D(10_000)) == D("20.00")
    assert price(spec, D(10_001)) == D("30.00")
    assert price(spec, D(65_000)) == D(10 + 32 + 9 + 30)


def test_zero_quantity_costs_nothing_not_even_a_flat_fee():
    # GIVEN tiers whose first band has a fee WHEN nothing is used THEN the amount is 0
    for mode in TierMode:
        assert price(PriceSpec(D("0.0010"), "USD", mode, API_CALLS), D(0)) == D("0.00")


def test_amount_adjustment_subtracts_from_the_rate():
    # GIVEN $1.00 with a second tier $0.25 cheaper WHEN 15 units graduated THEN 10 × 1.00 + 5 × 0.75
    tiers = (tier(0, 10, AMT, "0"), tier(10, None, AMT, "0.25"))
    assert price(PriceSpec(D("1.00"), "USD", TierMode.TIERED, tiers), D(15)) == D("13.75")


def test_amount_is_rounded_once_half_up_to_the_currency():
    # GIVEN three records of 1 unit at $0.005 WHEN priced as increments THEN they sum to the rounded total
    spec = PriceSpec(D("0.005"), "USD")
    parts = [price_increment(spec, D(i), D(i + 1)) for i in range(3)]
    assert sum(parts) == price(spec, D(3)) == D("0.02")
    assert price(spec, D(1)) == D("0.01")  # 0.005 rounds half-up
    assert price(PriceSpec(D("0.5"), "JPY"), D(3)) == D(2)
    assert price(PriceSpec(D("0.0005"), "KWD"), D(1)) == D("0.001")


def test_fractional_quantities_are_priced_exactly():
    # GIVEN 0.000001 units at a six-place rate and a big quantity WHEN priced THEN no precision is lost before rounding
    assert price(PriceSpec(D("123456.789012"), "USD"), D("0.000001")) == D("0.12")
    assert price(PriceSpec(D("0.000001"), "USD"), D("123456789012.123456")) == D("123456.79")


def test_negative_quantity_is_refused():
    # GIVEN any spec WHEN a negative quantity is priced THEN NEGATIVE_QUANTITY
    with pytest.raises(DomainError) as err:
        price(PriceSpec(D(1), "USD"), D(-1))
    assert err.value.code == "NEGATIVE_QUANTITY"


def test_tiers_without_a_mode_are_refused():
    # GIVEN tiers but no tier mode WHEN a spec is built THEN INVALID_VALUE
    with pytest.raises(DomainError):
        PriceSpec(D(1), "USD", None, MINUTES)


def test_tiers_given_out_of_order_price_the_same():
    # GIVEN the vector 2 tiers reversed WHEN priced THEN still $43.50
    assert price(PriceSpec(D("0.50"), "USD", TierMode.TIERED, GRADUATED_DATA[::-1]), D(100)) == D("43.50")


def test_volume_pricing_is_not_monotone_across_a_band_edge():
    # GIVEN volume pricing WHEN crossing into a cheaper band THEN the amount may fall and the increment is negative
    spec = PriceSpec(D("0.0010"), "USD", TierMode.VOLUME, API_CALLS)
    assert price_increment(spec, D(10_000), D(10_001)) == D("-2.00")


# --- tier validation -----------------------------------------------------------------------------------------


def test_contiguous_tiers_have_no_problems():
    # GIVEN the vector tiers WHEN validated THEN nothing is wrong
    assert validate_tiers(GRADUATED_DATA) == []
    assert validate_tiers(API_CALLS[::-1]) == []
    assert validate_tiers(()) == []


@pytest.mark.parametrize(
    ("tiers", "kind"),
    [
        ((tier(0, 10), tier(10, 10), tier(10, None)), TierProblemKind.INVERTED_BOUNDS),
        ((tier(0, 10), tier(8, None)), TierProblemKind.OVERLAP),
        ((tier(0, 10), tier(12, None)), TierProblemKind.GAP),
        ((tier(5, 10), tier(10, None)), TierProblemKind.NOT_FROM_ZERO),
        ((tier(0, None), tier(10, 20)), TierProblemKind.OPEN_NOT_LAST),
    ],
)
def test_each_broken_tier_rule_is_reported(tiers, kind):
    # GIVEN tiers breaking one rule WHEN validated THEN that rule is reported with the tiers involved
    problems = validate_tiers(tiers)
    assert kind in {p.kind for p in problems}
    assert all(p.message and p.indexes for p in problems)


def test_problem_indexes_point_at_the_tiers_as_given():
    # GIVEN an overlap between the tiers given third and first WHEN validated THEN indexes (2, 0)
    problems = validate_tiers((tier(8, None), tier(20, 30), tier(0, 10)))
    overlap = [p for p in problems if p.kind == TierProblemKind.OVERLAP]
    assert overlap and overlap[0].indexes == (2, 0)


# --- unit conversion -----------------------------------------------------------------------------------------


def test_conversion_accepts_ratios_decimals_and_strings_exactly():
    # GIVEN MB = 1/1024 GB in every accepted form WHEN 104,448 MB are converted THEN exactly 102 GB
    for factor in (Fraction(1, 1024), "1/1024", D("0.0009765625"), "0.0009765625"):
        assert convert(D(104_448), factor, 1) == D(102)
    # ... and back: 1.5 GB is 1,536 MB
    assert convert(D("1.5"), 1, "1/1024") == D(1536)


def test_conversion_with_a_repeating_ratio_rounds_to_twelve_places():
    # GIVEN a factor of 1/3 WHEN 1 unit is converted THEN the result is rounded half-up at 12 places
    assert convert(D(1), "1/3", 1) == D("0.333333333333")
    assert convert(D(2), "1/3", 1) == D("0.666666666667")


@pytest.mark.parametrize("bad", [0.5, "0", "-1", "x", "1/0", True])
def test_conversion_refuses_floats_and_non_positive_factors(bad):
    # GIVEN a float, zero, negative or unparseable factor WHEN converting THEN INVALID_VALUE
    with pytest.raises(DomainError):
        convert(D(1), bad, 1)


# --- properties ----------------------------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False)
quantities = st.decimals(min_value=0, max_value=5000, places=6, allow_nan=False, allow_infinity=False)


@st.composite
def tier_sets(draw, rate: Decimal) -> tuple[RateTier, ...]:
    """Contiguous tiers from 0 whose adjusted rates and fees are non-negative."""
    uppers = sorted(draw(st.sets(st.integers(1, 3000), min_size=0, max_size=4)))
    bounds = [0, *uppers]
    open_last = draw(st.booleans())
    tiers = []
    for i, lower in enumerate(bounds):
        upper = bounds[i + 1] if i + 1 < len(bounds) else (None if open_last else lower + 1000)
        kind = draw(st.sampled_from(AdjustmentType))
        if kind == PCT:
            value = draw(st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False))
        elif kind == AMT:
            value = draw(st.decimals(min_value=0, max_value=rate, places=4, allow_nan=False, allow_infinity=False))
        else:
            value = draw(money)
        fee = draw(st.none() | money)
        tiers.append(RateTier(D(lower), None if upper is None else D(upper), kind, value, fee))
    return tuple(tiers)


@st.composite
def specs(draw, modes=(None, TierMode.TIERED, TierMode.VOLUME)) -> PriceSpec:
    rate = draw(money)
    mode = draw(st.sampled_from(modes))
    tiers = () if mode is None else draw(tier_sets(rate))
    return PriceSpec(rate, draw(st.sampled_from(["USD", "JPY", "KWD"])), mode, tiers)


@given(spec=specs(), parts=st.lists(quantities, min_size=1, max_size=8), order=st.randoms(use_true_random=False))
def test_increments_in_any_order_sum_to_the_price_of_the_total(spec, parts, order):
    # GIVEN a total split into records arriving in any order
    order.shuffle(parts)
    # WHEN each record is priced as the increment of the running total
    total, amounts = D(0), []
    for part in parts:
        amounts.append(price_increment(spec, total, total + part))
        total += part
    # THEN the per-record amounts add up to the price of the whole
    assert sum(amounts) == price(spec, total)


@given(spec=specs(modes=(None, TierMode.TIERED)), a=quantities, b=quantities)
def test_price_never_falls_as_quantity_grows(spec, a, b):
    # GIVEN per-unit or graduated pricing with non-negative rates and fees WHEN the quantity grows
    # THEN the price does not fall
    low, high = sorted((a, b))
    assert price(spec, low) <= price(spec, high)


@given(spec=specs(), quantity=quantities)
def test_tiers_drawn_for_the_properties_are_valid(spec, quantity):
    # GIVEN generated tiers THEN the validator finds nothing and the price is non-negative
    assert validate_tiers(spec.tiers) == []
    assert price(spec, quantity) >= 0


@settings(max_examples=300, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1E40"), max_value=Decimal("1E40"),
                   places=None),
       st.sampled_from([Decimal(1), Decimal("1.0"), Decimal("1024"), Decimal("0.001"), Decimal("3")]))
def test_converting_between_units_of_one_factor_is_the_exact_conversion(quantity: Decimal, factor: Decimal) -> None:
    # the shortcut for units of the same factor gives exactly what the trip through Fraction gives
    slow = convert(quantity, Fraction(factor), factor)  # a Fraction factor: the general path
    assert convert(quantity, factor, factor) == slow
    assert str(convert(quantity, factor, factor)) == str(slow)
