"""Subscriptions and wallets through the HTTP API: one shared wallet for an anchor and a pack, the grant lifecycle
over simulated months (asOf dates, never the real clock), proration, typed errors, roles and tenants.

Debits are booked through ``infra.wallets_repo`` exactly as the rating function books them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from infra.wallets_repo import AlreadyBooked, WalletsRepository
from tests.builders import GRANT, POLICY, PRODUCT, PUR, RESOURCE, START, UNIT_CLASS, activate_everything

SUBSCRIBE = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  record { id externalId accountExternalId productCode quantity startDate endDate billingTerm billingTermUnit
           billingDayOfMonth bindingTarget walletOwner resourceCodes product { code status }
           account { externalId name } }
  errors { code message field } } }"""
WALLETS = """query($id: String!, $asOf: DateTime, $ended: Boolean = false) { account(externalId: $id) {
  externalId name subscriptions { externalId bindingTarget }
  wallets(asOf: $asOf) { id bindingTarget balance asOf unit { unitCode } resource { code }
    buckets(includeEnded: $ended) { id source grantedQuantity balance debitedQuantity expiredQuantity
      rolledOverQuantity effectiveFrom effectiveTo completedRollovers subscriptionExternalId }
    entries(first: 100) { edges { node { type quantity openingBalance closingBalance effectiveAt recordedAt
      usageRecordId } } } } } }"""
ENTRIES = """query($id: String!, $asOf: DateTime, $first: Int, $after: String) { account(externalId: $id) {
  wallets(asOf: $asOf) { entries(first: $first, after: $after) {
    edges { cursor node { type quantity effectiveAt } } pageInfo { hasNextPage endCursor } } } } }"""


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def texts_catalog(api: Any, rollover_max: int = 1) -> None:
    """TEXTS (COUNT/EA); anchor PLAN: 4,000 texts a month, refreshed monthly, unused texts roll over once;
    pack PACK2K: 2,000 texts valid a month. Both ACTIVE."""
    api.ok(UNIT_CLASS, {"input": {"code": "COUNT", "name": "Count", "type": "USAGE", "baseUnitCode": "EA",
                                  "units": [{"unitCode": "EA", "name": "Each", "conversionFactor": "1"},
                                            {"unitCode": "DOZEN", "name": "Dozen", "conversionFactor": "12"}]}})
    api.ok(RESOURCE, {"input": {"code": "TEXTS", "name": "Texts", "unitOfMeasureClassCode": "COUNT"}})
    refresh = api.ok(POLICY, {"input": {"kind": "GRANT_REFRESH", "name": "Renew Grants Monthly",
                                        "refreshAllowed": True, "refreshFrequency": 1,
                                        "refreshUnit": "MONTH"}})["record"]["id"]
    rollover = api.ok(POLICY, {"input": {"kind": "GRANT_ROLLOVER", "name": "Rollover once", "rolloverAllowed": True,
                                         "rolloverCanExpire": True,
                                         "maximumRolloverCount": rollover_max}})["record"]["id"]
    for code, model, quantity, policies in (("PLAN", "ANCHOR", "4000", (refresh, rollover)),
                                            ("PACK2K", "PACK", "2000", (None, None))):
        api.ok(PRODUCT, {"input": {"code": code, "name": code, "usageModelType": model}})
        pur = api.ok(PUR, {"input": {"productCode": code, "resourceCode": "TEXTS", "effectiveFrom": START}})
        api.ok(GRANT, {"input": {"productUsageResourceId": pur["record"]["id"], "quantity": quantity,
                                 "validityTerm": 1, "validityUnit": "MONTH", "refreshPolicyId": policies[0],
                                 "rolloverPolicyId": policies[1]}})
        activate_everything(api, code)


def subscribe(api: Any, **fields: Any) -> dict[str, Any]:
    return api(SUBSCRIBE, {"input": fields})["createSubscription"]  # type: ignore[no-any-return]


def wallet(api: Any, account: str, as_of: datetime, ended: bool = False) -> dict[str, Any]:
    wallets = api(WALLETS, {"id": account, "asOf": iso(as_of), "ended": ended})["account"]["wallets"]
    assert len(wallets) == 1, wallets
    return wallets[0]  # type: ignore[no-any-return]


def debit(tenant: str, account: str, at: datetime, quantity: str, record: str) -> Any:
    repo = WalletsRepository(tenant)
    return repo.commit(lambda: repo.plan_debit(account, "TEXTS", at, Decimal(quantity), usage_record_id=record))


def balances(w: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """source:completedRollovers:start month → (granted, balance)."""
    return {f"{b['source']}:{b['completedRollovers']}:{b['effectiveFrom'][:7]}": (b["grantedQuantity"], b["balance"])
            for b in w["buckets"]}


def test_an_anchor_and_a_pack_bound_to_the_account_share_one_wallet_through_the_months(api: Any) -> None:
    # GIVEN an anchor (4,000 texts/month, refresh, rollover once) and a pack (2,000 texts) ending Jan 24,
    # both bound to the account
    texts_catalog(api)
    anchor = subscribe(api, externalId="anchor-1", accountExternalId="acme", accountName="Acme Ltd",
                       productCode="PLAN", startDate=START, billingDayOfMonth=1, bindingTarget="ACCOUNT")
    assert anchor["errors"] == [] and anchor["record"]["walletOwner"] == "ACCOUNT:acme"
    assert anchor["record"]["account"] == {"externalId": "acme", "name": "Acme Ltd"}
    pack = subscribe(api, externalId="pack-1", accountExternalId="acme", productCode="PACK2K", startDate=START,
                     endDate="2026-01-24T00:00:00Z", bindingTarget="ACCOUNT")
    assert pack["errors"] == []

    # WHEN the account's wallets are read on Jan 10 THEN one wallet of 6,000 texts with two buckets
    jan = wallet(api, "acme", utc(2026, 1, 10))
    assert jan["bindingTarget"] == "ACCOUNT:acme" and jan["resource"]["code"] == "TEXTS"
    assert jan["unit"]["unitCode"] == "EA" and jan["balance"] == "6000"
    assert balances(jan) == {"GRANT:0:2026-01": ("4000", "4000"), "PACK:0:2026-01": ("2000", "2000")}
    assert {b["subscriptionExternalId"] for b in jan["buckets"]} == {"anchor-1", "pack-1"}

    # WHEN 2,500 texts are used inside the pack's life (EXPIRING_FIRST: the pack ends first, DOMAIN §5.5)
    plan = debit(api.tenant, "acme", utc(2026, 1, 12), "2500", "usage-1")
    assert plan.debited == Decimal(2500) and plan.overage == 0
    # THEN the pack is empty and the anchor holds 3,500
    jan20 = wallet(api, "acme", utc(2026, 1, 20))
    assert jan20["balance"] == "3500"
    assert balances(jan20) == {"GRANT:0:2026-01": ("4000", "3500"), "PACK:0:2026-01": ("2000", "0")}

    # WHEN February starts THEN the anchor refreshes 4,000 and its 3,500 roll over; the ended pack is gone
    feb = wallet(api, "acme", utc(2026, 2, 10))
    assert feb["balance"] == "7500"
    assert balances(feb) == {"REFRESH:0:2026-02": ("4000", "4000"), "ROLLOVER:1:2026-02": ("3500", "3500")}

    # WHEN 5,000 texts are used in February (both end Mar 1: the older rolled-over texts go first)
    debit(api.tenant, "acme", utc(2026, 2, 15), "5000", "usage-2")
    # THEN March holds the refresh and what February's refresh left (2,500); the rollover is used up
    mar = wallet(api, "acme", utc(2026, 3, 10))
    assert mar["balance"] == "6500"
    assert balances(mar) == {"REFRESH:0:2026-03": ("4000", "4000"), "ROLLOVER:1:2026-03": ("2500", "2500")}

    # WHEN April starts with nothing used in March THEN the 2,500 expire (rolled over once already) and March's
    # 4,000 roll over
    apr = wallet(api, "acme", utc(2026, 4, 10), ended=True)
    assert apr["balance"] == "8000"
    ended = {b["id"]: b for b in apr["buckets"]}
    rolled_twice = [b for b in ended.values() if b["source"] == "ROLLOVER" and b["effectiveFrom"].startswith(
        "2026-03")]
    assert [(b["grantedQuantity"], b["balance"], b["expiredQuantity"]) for b in rolled_twice] == [("2500", "0",
                                                                                                  "2500")]
    entries = [e["node"] for e in apr["entries"]["edges"]]
    summary = [(e["type"], e["quantity"], e["effectiveAt"][:10]) for e in entries]
    assert summary[:3] == [("GRANT", "4000", "2026-01-01"), ("GRANT", "2000", "2026-01-01"),
                           ("DEBIT", "-2000", "2026-01-12")]
    assert ("DEBIT", "-500", "2026-01-12") in summary
    assert ("ROLLOVER", "-3500", "2026-02-01") in summary and ("ROLLOVER", "3500", "2026-02-01") in summary
    assert ("REFRESH", "4000", "2026-02-01") in summary
    assert ("EXPIRY", "-2500", "2026-04-01") in summary
    # every stored debit carries its opening and closing balance and the usage record it books
    debits = [e for e in entries if e["type"] == "DEBIT"]
    assert [(e["openingBalance"], e["closingBalance"], e["usageRecordId"]) for e in debits] == [
        ("2000", "0", "usage-1"), ("4000", "3500", "usage-1"), ("3500", "0", "usage-2"), ("4000", "2500", "usage-2")]
    assert all(e["recordedAt"] for e in debits)
    # and as of a time between two debits, the later one does not count yet
    assert wallet(api, "acme", utc(2026, 1, 11))["balance"] == "6000"


def test_a_subscription_added_mid_period_is_prorated_by_days(api: Any) -> None:
    # GIVEN 4,000 texts/month billed on the 20th WHEN subscribed on Aug 3 (period Jul 20 – Aug 19: 17 of 31 days)
    texts_catalog(api)
    created = subscribe(api, externalId="late-1", accountExternalId="beta", productCode="PLAN",
                        startDate="2026-08-03T00:00:00Z", billingDayOfMonth=20)
    assert created["errors"] == [] and created["record"]["bindingTarget"] == "SELF"
    # THEN the first bucket holds 2,193 texts until Aug 20, and the full 4,000 come with the refresh
    aug = wallet(api, "beta", utc(2026, 8, 10))
    assert aug["bindingTarget"] == "SUBSCRIPTION:late-1"
    assert [(b["grantedQuantity"], b["effectiveFrom"], b["effectiveTo"]) for b in aug["buckets"]] == [
        ("2193", "2026-08-03T00:00:00Z", "2026-08-20T00:00:00Z")]
    assert wallet(api, "beta", utc(2026, 8, 25))["balance"] == "6193"  # refresh 4,000 + 2,193 rolled over


def test_the_subscription_quantity_multiplies_the_grants_and_its_end_forfeits_the_rest(api: Any) -> None:
    # GIVEN 3 lines of the plan, ending Jan 15
    texts_catalog(api)
    created = subscribe(api, externalId="lines-3", accountExternalId="gamma", productCode="PLAN", quantity="3",
                        startDate=START, endDate="2026-01-15T00:00:00Z")
    assert created["errors"] == [] and created["record"]["quantity"] == "3"
    # WHEN read during the subscription THEN 12,000 texts valid until its end
    during = wallet(api, "gamma", utc(2026, 1, 5))
    assert [(b["grantedQuantity"], b["effectiveTo"]) for b in during["buckets"]] == [
        ("12000", "2026-01-15T00:00:00Z")]
    # WHEN read after its end THEN nothing is left, nothing rolled over, and the rest expired at the end
    after = wallet(api, "gamma", utc(2026, 2, 5), ended=True)
    assert after["balance"] == "0"
    assert [(b["balance"], b["expiredQuantity"], b["rolledOverQuantity"]) for b in after["buckets"]] == [
        ("0", "12000", "0")]


def test_self_bound_subscriptions_have_their_own_wallets(api: Any) -> None:
    # GIVEN an anchor and a pack of one account, both SELF-bound
    texts_catalog(api)
    subscribe(api, externalId="a-self", accountExternalId="delta", productCode="PLAN", startDate=START)
    subscribe(api, externalId="p-self", accountExternalId="delta", productCode="PACK2K", startDate=START)
    # WHEN the wallets are read THEN one per subscription
    wallets = api(WALLETS, {"id": "delta", "asOf": "2026-01-10T00:00:00Z"})["account"]["wallets"]
    assert sorted((w["bindingTarget"], w["balance"]) for w in wallets) == [
        ("SUBSCRIPTION:a-self", "4000"), ("SUBSCRIPTION:p-self", "2000")]
    # and a usage naming the pack subscription draws from the pack's wallet only
    repo = WalletsRepository(api.tenant)
    plan = repo.plan_debit("delta", "TEXTS", utc(2026, 1, 12), Decimal(2500), usage_record_id="u-1",
                           subscription_external_id="p-self")
    assert plan is not None and plan.wallet_id == "SUBSCRIPTION:p-self|TEXTS"
    assert (plan.debited, plan.overage) == (Decimal(2000), Decimal(500))


def test_the_product_binding_policy_decides_when_the_input_does_not(api: Any) -> None:
    # GIVEN the pack's binding policy says ACCOUNT
    texts_catalog(api)
    api.ok("""mutation { setGrantBindingPolicy(input: {productCode: "PACK2K", binding: TARGET, target: ACCOUNT})
      { errors { code message } } }""")
    activate_everything(api, "PACK2K")
    # WHEN subscribed without a binding target THEN ACCOUNT; an explicit SELF still wins
    default = subscribe(api, externalId="p-1", accountExternalId="eps", productCode="PACK2K", startDate=START)
    explicit = subscribe(api, externalId="p-2", accountExternalId="eps", productCode="PACK2K", startDate=START,
                         bindingTarget="SELF")
    assert (default["record"]["bindingTarget"], explicit["record"]["bindingTarget"]) == ("ACCOUNT", "SELF")


def test_ledger_entries_page_with_cursors(api: Any) -> None:
    # GIVEN a wallet with lifecycle entries and debits over three months
    texts_catalog(api)
    subscribe(api, externalId="pg-1", accountExternalId="paging", productCode="PLAN", startDate=START,
              billingDayOfMonth=1)
    debit(api.tenant, "paging", utc(2026, 1, 5), "100", "r-1")
    debit(api.tenant, "paging", utc(2026, 2, 5), "100", "r-2")
    as_of = "2026-03-10T00:00:00Z"
    everything = api(ENTRIES, {"id": "paging", "asOf": as_of, "first": 100})["account"]["wallets"][0]["entries"]
    all_entries = [e["node"] for e in everything["edges"]]
    assert not everything["pageInfo"]["hasNextPage"]
    # WHEN paged two at a time
    paged: list[dict[str, Any]] = []
    after = None
    while True:
        page = api(ENTRIES, {"id": "paging", "asOf": as_of, "first": 2, "after": after})
        conn = page["account"]["wallets"][0]["entries"]
        paged += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    # THEN the pages add up to the whole ledger, in effective-time order
    assert paged == all_entries
    assert [e["effectiveAt"] for e in paged] == sorted(e["effectiveAt"] for e in paged)
    assert [(e["type"], e["quantity"]) for e in paged] == [
        ("GRANT", "4000"), ("DEBIT", "-100"),                                          # January
        ("ROLLOVER", "-3900"), ("REFRESH", "4000"), ("ROLLOVER", "3900"), ("DEBIT", "-100"),  # February
        ("ROLLOVER", "-4000"), ("EXPIRY", "-3800"), ("REFRESH", "4000"), ("ROLLOVER", "4000")]  # March


def test_a_draft_product_cannot_be_subscribed(api: Any) -> None:
    # GIVEN a DRAFT product
    api.ok(PRODUCT, {"input": {"code": "DRAFTY", "name": "Drafty", "usageModelType": "ANCHOR"}})
    # WHEN subscribed THEN a typed error names the product
    refused = subscribe(api, externalId="s-1", accountExternalId="acme", productCode="DRAFTY", startDate=START)
    assert refused["record"] is None
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INACTIVE_REFERENCE", "productCode")]
    unknown = subscribe(api, externalId="s-1", accountExternalId="acme", productCode="NOPE", startDate=START)
    assert [(e["code"], e["field"]) for e in unknown["errors"]] == [("UNKNOWN_REFERENCE", "productCode")]
    # and no account was created by the failed attempts
    assert api(WALLETS, {"id": "acme"})["account"] is None


def test_bad_inputs_are_reported_per_field(api: Any) -> None:
    texts_catalog(api)
    bad = subscribe(api, externalId="bad#id", accountExternalId="", productCode="PLAN", startDate=START,
                    endDate="2025-12-01T00:00:00Z", quantity="0", billingDayOfMonth=32, billingTerm=0)
    assert sorted((e["code"], e["field"]) for e in bad["errors"]) == [
        ("INVALID_RANGE", "endDate"), ("INVALID_VALUE", "accountExternalId"), ("INVALID_VALUE", "billingDayOfMonth"),
        ("INVALID_VALUE", "billingTerm"), ("INVALID_VALUE", "externalId"), ("INVALID_VALUE", "quantity")]
    negative = subscribe(api, externalId="n-1", accountExternalId="acme", productCode="PLAN", startDate=START,
                         quantity="-2")
    assert [(e["code"], e["field"]) for e in negative["errors"]] == [("NEGATIVE_QUANTITY", "quantity")]


def test_a_subscription_external_id_is_unique_per_tenant(api: Any) -> None:
    texts_catalog(api)
    assert subscribe(api, externalId="dup", accountExternalId="a1", productCode="PLAN", startDate=START)["record"]
    again = subscribe(api, externalId="dup", accountExternalId="a2", productCode="PACK2K", startDate=START)
    assert [(e["code"], e["field"]) for e in again["errors"]] == [("DUPLICATE_CODE", "externalId")]
    assert api(WALLETS, {"id": "a2"})["account"] is None


def test_viewers_read_but_only_admins_subscribe_and_tenants_are_isolated(api: Any, app: Any) -> None:
    from starlette.testclient import TestClient

    from core.auth import Role
    from infra.bootstrap import bootstrap_tenant
    from tests.conftest import Api

    texts_catalog(api)
    subscribe(api, externalId="v-1", accountExternalId="acme", productCode="PLAN", startDate=START)
    viewer = api.as_role(Role.VIEWER)
    refused = viewer.raw(SUBSCRIBE, {"input": {"externalId": "v-2", "accountExternalId": "acme",
                                               "productCode": "PLAN", "startDate": START}}).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert viewer(WALLETS, {"id": "acme", "asOf": "2026-01-02T00:00:00Z"})["account"]["wallets"][0]["balance"] \
        == "4000"
    bootstrap_tenant(other := f"{api.tenant}-other")
    with TestClient(app) as client:
        assert Api(client, other)(WALLETS, {"id": "acme"})["account"] is None


def test_a_replayed_debit_is_booked_once_and_a_reversal_gives_it_back(api: Any) -> None:
    # GIVEN a wallet of 4,000 texts and a booked debit of 300
    texts_catalog(api)
    subscribe(api, externalId="r-1", accountExternalId="rho", productCode="PLAN", startDate=START)
    plan = debit(api.tenant, "rho", utc(2026, 1, 5), "300", "rec-1")
    # WHEN the same debit (same record, same attempt) is committed again THEN it is refused as booked
    with pytest.raises(AlreadyBooked):
        debit(api.tenant, "rho", utc(2026, 1, 5), "300", "rec-1")
    assert wallet(api, "rho", utc(2026, 1, 10))["balance"] == "3700"
    # WHEN the record is voided THEN the same bucket is credited back, as of the debit's time
    repo = WalletsRepository(api.tenant)
    reversal = repo.commit(lambda: repo.plan_reversal(plan.wallet_id, plan.debits, plan.at, usage_record_id="rec-1"))
    assert reversal is not None and reversal.credited == Decimal(300)
    after = wallet(api, "rho", utc(2026, 1, 10))
    assert after["balance"] == "4000"
    assert [(e["node"]["type"], e["node"]["quantity"], e["node"]["openingBalance"], e["node"]["closingBalance"])
            for e in after["entries"]["edges"]] == [("GRANT", "4000", "0", "4000"), ("DEBIT", "-300", "4000", "3700"),
                                                    ("REVERSAL", "300", "3700", "4000")]
    # and giving back more than was debited is refused
    with pytest.raises(Exception, match="cannot give back"):
        repo.plan_reversal(plan.wallet_id, plan.debits, plan.at, usage_record_id="rec-1", attempt=1)


def test_usage_no_subscription_covers_finds_no_wallet(api: Any) -> None:
    texts_catalog(api)
    subscribe(api, externalId="w-1", accountExternalId="omega", productCode="PLAN", startDate=START,
              endDate="2026-06-01T00:00:00Z")
    repo = WalletsRepository(api.tenant)
    assert repo.plan_debit("nobody", "TEXTS", utc(2026, 1, 5), Decimal(1), usage_record_id="x") is None
    assert repo.plan_debit("omega", "DATA", utc(2026, 1, 5), Decimal(1), usage_record_id="x") is None
    assert repo.plan_debit("omega", "TEXTS", utc(2025, 12, 31), Decimal(1), usage_record_id="x") is None
    assert repo.plan_debit("omega", "TEXTS", utc(2026, 6, 1), Decimal(1), usage_record_id="x") is None
    covered = repo.plan_debit("omega", "TEXTS", utc(2026, 5, 31), Decimal(1), usage_record_id="x")
    assert covered is not None and [s.external_id for s in covered.subscriptions] == ["w-1"]
    assert len(covered.items) == 2 and all("ConditionExpression" in next(iter(i.values())) for i in covered.items)


def test_balances_more_than_a_century_ahead_are_refused_with_a_code(api: Any) -> None:
    # GIVEN a subscription WHEN its wallets are asked for as of the year 3000 THEN a typed error, not a long compute
    texts_catalog(api)
    subscribe(api, externalId="far-1", accountExternalId="far", productCode="PLAN", startDate=START)
    body = api.raw(WALLETS, {"id": "far", "asOf": "3000-01-01T00:00:00Z"}).json()
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in body["errors"]] == [
        ("INVALID_RANGE", "asOf")]
