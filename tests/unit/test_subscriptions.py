"""createSubscription's rules: input validation, what must be ACTIVE, the binding target, matching and wallets."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.catalog import (
    BindingTargetType,
    BindingType,
    GrantBindingPolicy,
    GrantType,
    Policy,
    PolicyKind,
    Product,
    ProductUsageGrant,
    ProductUsageResource,
    RecordStatus,
    ResourceCategory,
    UnitOfMeasure,
    UsageModelType,
    UsageResource,
    ValidityUnit,
)
from core.errors import DomainError
from core.periods import PeriodUnit
from core.subscriptions import (
    BindingTarget,
    ProductOffer,
    Subscription,
    SubscriptionRequest,
    binding_for,
    build_subscription,
    matching_subscriptions,
    validate_request,
    wallets_of,
)
from infra.codec import decode, encode

D = Decimal
ACTIVE, DRAFT = RecordStatus.ACTIVE, RecordStatus.DRAFT


def utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def offer(model: UsageModelType = UsageModelType.ANCHOR, code: str = "PLAN", quantity: str = "4000",
          **statuses: RecordStatus) -> ProductOffer:
    """A product with one TEXTS resource and one monthly-refreshed grant; every record ACTIVE unless overridden."""
    status = {"product": ACTIVE, "pur": ACTIVE, "resource": ACTIVE, "grant": ACTIVE, "policy": ACTIVE, **statuses}
    pur = ProductUsageResource(f"{code}:P", code, "TEXTS", utc(2026, 1, 1), status=status["pur"])
    grant = ProductUsageGrant(f"{code}:P:G", code, pur.id, GrantType.GRANT, D(quantity), "EA", 1, ValidityUnit.MONTH,
                              utc(2026, 1, 1), refresh_policy_id="renew", status=status["grant"])
    renew = Policy("renew", PolicyKind.GRANT_REFRESH, "Renew Grants Monthly", refresh_allowed=True,
                   refresh_frequency=1, refresh_unit=PeriodUnit.MONTH, status=status["policy"])
    return ProductOffer(
        product=Product(code, code, model, status["product"]), purs=[pur], grants={pur.id: [grant]},
        resources={"TEXTS": UsageResource("TEXTS", "Texts", ResourceCategory.USAGE, "COUNT", "EA",
                                          status=status["resource"])},
        units={"EA": UnitOfMeasure("EA", "Each", "COUNT", D(1), status=ACTIVE)}, policies={"renew": renew})


def request(**fields: object) -> SubscriptionRequest:
    base: dict[str, object] = {"external_id": "sub-1", "account_external_id": "acme", "product_code": "PLAN",
                               "start_date": utc(2026, 1, 1)}
    base.update(fields)
    return SubscriptionRequest(**base)  # type: ignore[arg-type]


def fields_of(exc: pytest.ExceptionInfo[DomainError]) -> list[tuple[str, str | None]]:
    return sorted((d.code, d.field) for d in exc.value.all_details())


# --- input validation ----------------------------------------------------------------------------------------


def test_every_bad_input_is_reported_with_its_field_at_once() -> None:
    # GIVEN an input wrong in every way WHEN validated
    with pytest.raises(DomainError) as exc:
        validate_request(request(external_id="has#hash", account_external_id=" ", product_code="",
                                 quantity=D("1.0000001"), end_date=utc(2025, 12, 31), billing_term=0,
                                 billing_day_of_month=0, account_name=""))
    # THEN each field is named once with its own code
    assert fields_of(exc) == [
        ("INVALID_RANGE", "endDate"), ("INVALID_VALUE", "accountExternalId"), ("INVALID_VALUE", "accountName"),
        ("INVALID_VALUE", "billingDayOfMonth"), ("INVALID_VALUE", "billingTerm"), ("INVALID_VALUE", "externalId"),
        ("REQUIRED", "productCode"), ("TOO_MANY_DECIMALS", "quantity")]


@pytest.mark.parametrize(("quantity", "code"), [("0", "INVALID_VALUE"), ("-1", "NEGATIVE_QUANTITY")])
def test_the_quantity_must_be_positive(quantity: str, code: str) -> None:
    with pytest.raises(DomainError) as exc:
        validate_request(request(quantity=D(quantity)))
    assert fields_of(exc) == [(code, "quantity")]


@pytest.mark.parametrize("day", [1, 15, 28, 31])
def test_billing_days_1_to_31_are_accepted(day: int) -> None:
    validate_request(request(billing_day_of_month=day))


def test_an_end_equal_to_the_start_is_refused() -> None:
    with pytest.raises(DomainError) as exc:
        validate_request(request(end_date=utc(2026, 1, 1)))
    assert fields_of(exc) == [("INVALID_RANGE", "endDate")]


# --- what must be ACTIVE -------------------------------------------------------------------------------------


@pytest.mark.parametrize("record", ["product", "resource", "policy"])
def test_a_product_with_a_draft_record_in_its_chain_cannot_be_subscribed(record: str) -> None:
    # GIVEN the product, its resource or a grant's policy still DRAFT WHEN subscribed THEN INACTIVE_REFERENCE
    with pytest.raises(DomainError) as exc:
        build_subscription(request(), offer(**{record: DRAFT}), utc(2026, 1, 1))
    assert fields_of(exc) == [("INACTIVE_REFERENCE", "productCode")]


def test_draft_grants_are_left_out_and_a_product_without_active_resources_is_refused() -> None:
    # GIVEN a DRAFT grant THEN the subscription covers the resource without grants
    sub = build_subscription(request(), offer(grant=DRAFT), utc(2026, 1, 1))
    assert [(r.resource_code, r.grants) for r in sub.resources] == [("TEXTS", ())]
    # GIVEN only a DRAFT product usage resource THEN nothing to subscribe to
    with pytest.raises(DomainError) as exc:
        build_subscription(request(), offer(pur=DRAFT), utc(2026, 1, 1))
    assert exc.value.code == "INACTIVE_REFERENCE" and "no ACTIVE product usage resource" in exc.value.message


def test_a_subscription_instantiates_the_grants_for_itself() -> None:
    # GIVEN 2 lines of a 4,000-text plan billed on the 20th
    sub = build_subscription(request(quantity=D(2), billing_day_of_month=20, start_date=utc(2026, 1, 5)),
                             offer(), utc(2026, 1, 5))
    # THEN one grant schedule of 8,000 texts anchored on the subscription
    (grant,) = sub.resources[0].grants
    assert grant.schedule.grant_id == "sub-1/PLAN:P:G" and grant.schedule.quantity == D(8000)
    assert grant.schedule.billing.start == utc(2026, 1, 5) and grant.schedule.billing.billing_day_of_month == 20
    assert (sub.anchor_day, sub.binding_target, sub.wallet_id("TEXTS")) == (20, "SELF", "SUBSCRIPTION:sub-1|TEXTS")


# --- binding ------------------------------------------------------------------------------------------------


def binding(target: BindingTargetType | None, status: RecordStatus = ACTIVE,
            kind: BindingType = BindingType.TARGET) -> GrantBindingPolicy:
    return GrantBindingPolicy("PLAN", kind, target, status)


def test_the_input_binding_wins_over_the_product_policy() -> None:
    assert binding_for(request(binding_target=BindingTarget.SELF), binding(BindingTargetType.ACCOUNT)) == "SELF"


def test_without_input_the_active_binding_policy_decides_else_self() -> None:
    assert binding_for(request(), binding(BindingTargetType.ACCOUNT)) == "ACCOUNT"
    assert binding_for(request(), binding(BindingTargetType.ACCOUNT, DRAFT)) == "SELF"
    assert binding_for(request(), binding(None, kind=BindingType.SELF)) == "SELF"
    assert binding_for(request(), None) == "SELF"


def test_a_binding_to_an_unsupported_target_needs_an_explicit_choice() -> None:
    with pytest.raises(DomainError) as exc:
        binding_for(request(), binding(BindingTargetType.CONTRACT))
    assert fields_of(exc) == [("INVALID_VALUE", "bindingTarget")]


# --- wallets and matching -----------------------------------------------------------------------------------


def subscribe(external_id: str, product: ProductOffer, binding_target: BindingTarget, start: datetime,
              end: datetime | None = None) -> Subscription:
    return build_subscription(request(external_id=external_id, product_code=product.product.code,
                                      binding_target=binding_target, start_date=start, end_date=end),
                              product, start)


def test_account_bound_subscriptions_share_one_wallet_per_resource_and_self_bound_ones_do_not() -> None:
    # GIVEN an anchor and a pack bound to the account, and another anchor bound to itself
    anchor = subscribe("a", offer(), BindingTarget.ACCOUNT, utc(2026, 1, 1))
    pack = subscribe("p", offer(UsageModelType.PACK, "PACK", "2000"), BindingTarget.ACCOUNT, utc(2026, 1, 2))
    alone = subscribe("s", offer(), BindingTarget.SELF, utc(2026, 1, 3))
    # WHEN their wallets are listed
    wallets = wallets_of([alone, pack, anchor])
    # THEN the account's wallet holds both grants (anchor first: created first), the other its own
    assert sorted(wallets) == ["ACCOUNT:acme|TEXTS", "SUBSCRIPTION:s|TEXTS"]
    shared = wallets["ACCOUNT:acme|TEXTS"]
    assert [g.schedule.grant_id for g in shared.grants] == ["a/PLAN:P:G", "p/PACK:P:G"]
    assert shared.owner == "ACCOUNT:acme" and shared.unit_code == "EA"
    assert [g.schedule.grant_id for g in wallets["SUBSCRIPTION:s|TEXTS"].grants] == ["s/PLAN:P:G"]


def test_usage_matches_active_covering_subscriptions_most_recent_first() -> None:
    # GIVEN three subscriptions with different windows
    old = subscribe("old", offer(), BindingTarget.SELF, utc(2026, 1, 1))
    new = subscribe("new", offer(), BindingTarget.SELF, utc(2026, 3, 1))
    ended = subscribe("ended", offer(), BindingTarget.SELF, utc(2026, 1, 1), end=utc(2026, 2, 1))
    subs = [old, new, ended]
    # THEN matching follows the subscription windows and the resource, newest first
    assert [s.external_id for s in matching_subscriptions(subs, "TEXTS", utc(2026, 1, 15))] == ["ended", "old"]
    assert [s.external_id for s in matching_subscriptions(subs, "TEXTS", utc(2026, 3, 15))] == ["new", "old"]
    assert matching_subscriptions(subs, "DATA", utc(2026, 3, 15)) == []
    assert matching_subscriptions(subs, "TEXTS", utc(2025, 12, 31)) == []
    # and a named subscription is the only candidate
    assert [s.external_id for s in matching_subscriptions(subs, "TEXTS", utc(2026, 3, 15), "old")] == ["old"]
    assert matching_subscriptions(subs, "TEXTS", utc(2026, 3, 15), "ended") == []


def test_a_subscription_is_not_covered_outside_its_product_usage_resource() -> None:
    # GIVEN a PUR that ends Jun 1 THEN usage after that is not attributed
    product = offer()
    product = replace(product, purs=[replace(product.purs[0], effective_to=utc(2026, 6, 1))])
    sub = subscribe("x", product, BindingTarget.SELF, utc(2026, 1, 1))
    assert sub.covers("TEXTS", utc(2026, 5, 31)) and not sub.covers("TEXTS", utc(2026, 6, 1))


def test_a_subscription_reads_back_exactly_as_stored() -> None:
    # GIVEN a subscription with grant schedules WHEN encoded for storage and decoded THEN nothing changed
    sub = subscribe("rt", offer(), BindingTarget.ACCOUNT, utc(2026, 1, 1), end=utc(2027, 1, 1))
    assert decode(Subscription, encode(sub)) == sub
