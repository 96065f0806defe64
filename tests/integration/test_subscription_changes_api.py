"""Subscription changes through the HTTP API (ADMIN): amend (the prorated bucket in ``Account.wallets(asOf)``),
cancel, renew, the history, typed errors, and versioned writes under concurrent changes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.subscription_changes import amend
from infra.accounts_repo import AccountsRepository
from tests.integration.test_subscriptions_api import debit, subscribe, texts_catalog, utc, wallet

FIELDS = """record { externalId quantity endDate version
  changes { kind effectiveDate quantityBefore quantityAfter endDateBefore endDateAfter createdAt version } }
  errors { code message field }"""
AMEND = "mutation($input: AmendSubscriptionInput!) { amendSubscription(input: $input) { " + FIELDS + " } }"
CANCEL = "mutation($input: CancelSubscriptionInput!) { cancelSubscription(input: $input) { " + FIELDS + " } }"
RENEW = "mutation($input: RenewSubscriptionInput!) { renewSubscription(input: $input) { " + FIELDS + " } }"
HISTORY = """query($id: String!) { subscription(externalId: $id) { externalId quantity version
  changes { kind effectiveDate quantityBefore quantityAfter } } }"""


def change(api: Any, mutation: str, **fields: Any) -> dict[str, Any]:
    return next(iter(api(mutation, {"input": fields}).values()))  # type: ignore[no-any-return]


def errors(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


def vector_subscription(api: Any, **fields: Any) -> None:
    """4,000 texts/month billed on the 20th from Jul 20, 2026: the first period Jul 20 – Aug 19 has 31 days."""
    texts_catalog(api)
    assert subscribe(api, externalId="sub-1", accountExternalId="acme", productCode="PLAN",
                     startDate="2026-07-20T00:00:00Z", billingDayOfMonth=20, **fields)["errors"] == []


def test_an_amendment_shows_its_prorated_bucket_in_the_wallet_and_the_history(api: Any) -> None:
    # GIVEN the DOMAIN §4 example WHEN amended from 1 to 2 on Aug 3 (17 days left)
    vector_subscription(api)
    amended = change(api, AMEND, externalId="sub-1", quantity="2", effectiveDate="2026-08-03T00:00:00Z")
    assert amended["errors"] == [] and amended["record"]["quantity"] == "2" and amended["record"]["version"] == 1
    # THEN as of Aug 5 the wallet holds the period's 4,000 and the prorated 2,193 added on Aug 3
    aug = wallet(api, "acme", utc(2026, 8, 5))
    assert aug["balance"] == "6193"
    assert [(b["source"], b["grantedQuantity"], b["effectiveFrom"], b["effectiveTo"]) for b in aug["buckets"]] == [
        ("GRANT", "4000", "2026-07-20T00:00:00Z", "2026-08-20T00:00:00Z"),
        ("GRANT", "2193", "2026-08-03T00:00:00Z", "2026-08-20T00:00:00Z")]
    assert ("GRANT", "2193", "2026-08-03T00:00:00Z") in [
        (e["node"]["type"], e["node"]["quantity"], e["node"]["effectiveAt"]) for e in aug["entries"]["edges"]]
    # AND before Aug 3 nothing changed; the next period grants 8,000 (plus what rolled over)
    assert wallet(api, "acme", utc(2026, 8, 2))["balance"] == "4000"
    september = wallet(api, "acme", utc(2026, 8, 25))
    assert [b["grantedQuantity"] for b in september["buckets"] if b["source"] == "REFRESH"] == ["8000"]
    # AND the subscription's history says what changed, when
    history = api(HISTORY, {"id": "sub-1"})["subscription"]
    assert history["quantity"] == "2" and history["version"] == 1
    assert history["changes"] == [{"kind": "AMENDED", "effectiveDate": "2026-08-03T00:00:00Z",
                                   "quantityBefore": "1", "quantityAfter": "2"}]


def test_a_decrease_leaves_consumed_usage_alone(api: Any) -> None:
    # GIVEN 2 lines (8,000 texts) and 7,000 used on Jul 25
    vector_subscription(api, quantity="2")
    debit(api.tenant, "acme", utc(2026, 7, 25), "7000", "use-1")
    # WHEN cut to 1 line from Aug 3 (the removed share, 2,194, is more than the 1,000 left)
    assert change(api, AMEND, externalId="sub-1", quantity="1", effectiveDate="2026-08-03T00:00:00Z")["errors"] == []
    # THEN the bucket keeps the 7,000 consumed: 1,000 expire on Aug 3, the balance is 0, not negative
    aug = wallet(api, "acme", utc(2026, 8, 5))
    assert [(b["grantedQuantity"], b["debitedQuantity"], b["expiredQuantity"], b["balance"])
            for b in aug["buckets"]] == [("8000", "7000", "1000", "0")]
    assert ("EXPIRY", "-1000", "2026-08-03T00:00:00Z") in [
        (e["node"]["type"], e["node"]["quantity"], e["node"]["effectiveAt"]) for e in aug["entries"]["edges"]]
    assert wallet(api, "acme", utc(2026, 7, 30))["balance"] == "1000"  # as of before the change: untouched


def test_a_cancellation_ends_the_buckets_and_is_refused_before_rated_usage(api: Any) -> None:
    vector_subscription(api)
    debit(api.tenant, "acme", utc(2026, 8, 12), "100", "use-1")
    # WHEN cancelled before usage already rated against it THEN refused, nothing changed
    refused = change(api, CANCEL, externalId="sub-1", endDate="2026-08-10T00:00:00Z")
    assert errors(refused) == [("CONFLICT", "endDate")] and refused["record"] is None
    assert api(HISTORY, {"id": "sub-1"})["subscription"]["version"] == 0
    # WHEN cancelled after it THEN the buckets end then and nothing is granted later
    cancelled = change(api, CANCEL, externalId="sub-1", endDate="2026-08-15T00:00:00Z")
    assert cancelled["errors"] == [] and cancelled["record"]["endDate"] == "2026-08-15T00:00:00Z"
    [entry] = cancelled["record"]["changes"]
    assert (entry["kind"], entry["endDateBefore"], entry["endDateAfter"]) == ("CANCELLED", None,
                                                                            "2026-08-15T00:00:00Z")
    during = wallet(api, "acme", utc(2026, 8, 14))
    assert [(b["balance"], b["effectiveTo"]) for b in during["buckets"]] == [("3900", "2026-08-15T00:00:00Z")]
    after = wallet(api, "acme", utc(2026, 9, 1), ended=True)
    assert after["balance"] == "0" and [b["expiredQuantity"] for b in after["buckets"]] == ["3900"]


def test_a_renewal_extends_the_term_with_fresh_grants(api: Any) -> None:
    vector_subscription(api, endDate="2026-09-20T00:00:00Z")
    assert wallet(api, "acme", utc(2026, 9, 25))["buckets"] == []
    renewed = change(api, RENEW, externalId="sub-1", terms=2)
    assert renewed["errors"] == [] and renewed["record"]["endDate"] == "2026-11-20T00:00:00Z"
    assert renewed["record"]["changes"][0]["kind"] == "RENEWED"
    # THEN October has its fresh 4,000 (and September's balance rolled over, since the term goes on)
    october = wallet(api, "acme", utc(2026, 10, 25))
    assert [b["grantedQuantity"] for b in october["buckets"] if b["source"] == "REFRESH"] == ["4000"]
    later = change(api, RENEW, externalId="sub-1", endDate="2027-01-20T00:00:00Z")
    assert later["record"]["endDate"] == "2027-01-20T00:00:00Z" and later["record"]["version"] == 2


def test_changes_are_refused_with_typed_errors_and_nothing_changes(api: Any) -> None:
    vector_subscription(api, endDate="2026-12-20T00:00:00Z")
    cases = [
        (AMEND, {"externalId": "nope", "quantity": "2", "effectiveDate": "2026-08-03T00:00:00Z"},
         [("NOT_FOUND", "externalId")]),
        (AMEND, {"externalId": "sub-1", "quantity": "2", "effectiveDate": "2026-07-01T00:00:00Z"},
         [("INVALID_RANGE", "effectiveDate")]),
        (AMEND, {"externalId": "sub-1", "quantity": "2", "effectiveDate": "2027-01-01T00:00:00Z"},
         [("INVALID_RANGE", "effectiveDate")]),
        (AMEND, {"externalId": "sub-1", "quantity": "0", "effectiveDate": "2026-08-03T00:00:00Z"},
         [("INVALID_VALUE", "quantity")]),
        (AMEND, {"externalId": "sub-1", "quantity": "-1", "effectiveDate": "2026-08-03T00:00:00Z"},
         [("NEGATIVE_QUANTITY", "quantity")]),
        (CANCEL, {"externalId": "sub-1", "endDate": "2026-07-01T00:00:00Z"}, [("INVALID_RANGE", "endDate")]),
        (CANCEL, {"externalId": "sub-1", "endDate": "2027-07-01T00:00:00Z"}, [("INVALID_RANGE", "endDate")]),
        (CANCEL, {"externalId": "nope", "endDate": "2026-08-01T00:00:00Z"}, [("NOT_FOUND", "externalId")]),
        (RENEW, {"externalId": "sub-1", "endDate": "2026-10-01T00:00:00Z"}, [("INVALID_RANGE", "endDate")]),
        (RENEW, {"externalId": "sub-1"}, [("INVALID_VALUE", "endDate")]),
        (RENEW, {"externalId": "sub-1", "terms": 0}, [("INVALID_VALUE", "terms")]),
    ]
    for mutation, fields, expected in cases:
        payload = change(api, mutation, **fields)
        assert (errors(payload), payload["record"]) == (expected, None), fields
    assert api(HISTORY, {"id": "sub-1"})["subscription"]["version"] == 0
    # a subscription without an end date is not renewed: it runs on by itself
    subscribe(api, externalId="open-1", accountExternalId="acme", productCode="PLAN", startDate="2026-07-20T00:00:00Z")
    assert errors(change(api, RENEW, externalId="open-1", terms=1)) == [("INVALID_VALUE", "externalId")]


def test_only_admins_change_subscriptions(api: Any) -> None:
    from core.auth import Role

    vector_subscription(api)
    refused = api.as_role(Role.PARTNER).raw(AMEND, {"input": {"externalId": "sub-1", "quantity": "2",
                                                              "effectiveDate": "2026-08-03T00:00:00Z"}}).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_concurrent_change_is_applied_after_the_other_never_lost(api: Any) -> None:
    # GIVEN a change that, while it is being applied, loses the race to another amendment
    vector_subscription(api)
    repo, rival = AccountsRepository(api.tenant), AccountsRepository(api.tenant)
    calls = []

    def racing(sub: Any) -> Any:
        calls.append(sub.version)
        if len(calls) == 1:  # the rival writes between our read and our write
            rival.amend_subscription("sub-1", Decimal(3), utc(2026, 8, 1), utc(2026, 8, 1))
        return amend(sub, Decimal(2), utc(2026, 8, 3), utc(2026, 8, 1))

    result = repo.change_subscription("sub-1", racing)
    # THEN our write was refused on the version, re-applied on the rival's version, and both changes are kept
    assert calls == [0, 1]
    assert (result.version, [c.quantity_after for c in result.changes]) == (2, [Decimal(3), Decimal(2)])
    history = api(HISTORY, {"id": "sub-1"})["subscription"]
    assert [c["quantityAfter"] for c in history["changes"]] == ["3", "2"] and history["version"] == 2
