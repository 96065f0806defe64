"""Usage ingestion through the HTTP API: recordUsage outcomes, dedup (also racing), the 1,000 limit, roles and
tenants, corrections, setUsageStatus, listing, the PERIOD_CLOSED gate, and the stored items rating reads."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from core.auth import Role
from core.usage import UsageRecord, UsageStatus, usage_record_id
from infra.dynamo import dynamodb_client, streams_client
from infra.settings import get_settings
from infra.usage_repo import UsageRepository, record_from_item
from tests.builders import active_usage_catalog

RECORD = """mutation($records: [UsageRecordInput!]!) { recordUsage(records: $records) {
  accepted duplicates rejected errors { code message field }
  results { index idempotencyKey outcome errors { code message field }
            usageRecord { id idempotencyKey status quantity unitCode startTime endTime receivedAt
                          accountExternalId resourceCode attempt resource { code } unit { unitCode } } } } }"""
GET = """query($id: ID!) { usageRecord(id: $id) { id idempotencyKey status quantity attempt voided voidedBy
  correctionOf correctionKind reason startTime endTime unitCode preratedAmount preratedQuantity dimensions } }"""
VOID = """mutation($id: ID!, $reason: String) { voidUsage(id: $id, reason: $reason) {
  original { id voided voidedBy } correction { id correctionOf correctionKind quantity startTime endTime reason
  status idempotencyKey } errors { code message field } } }"""
AMEND = """mutation($id: ID!, $input: UsageAmendmentInput!) { amendUsage(id: $id, input: $input) {
  original { id voided voidedBy } correction { id correctionOf correctionKind quantity unitCode startTime endTime
  status } errors { code message field } } }"""
SET_STATUS = """mutation($ids: [ID!]!, $status: UsageStatus!) { setUsageStatus(ids: $ids, status: $status) {
  records { id status attempt errorCode } errors { code message field } } }"""
LIST = """query($account: String!, $status: UsageStatus, $resource: String, $first: Int, $after: String) {
  account(externalId: $account) { usageRecords(status: $status, resourceCode: $resource, first: $first,
  after: $after) { edges { cursor node { idempotencyKey status resourceCode } }
  pageInfo { hasNextPage endCursor } } } }"""
SUBSCRIBE = """mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
  errors { code message field } } }"""


def rec(key: str, **fields: Any) -> dict[str, Any]:
    record = {"idempotencyKey": key, "accountExternalId": "acme", "resourceCode": "DATA", "quantity": "1.5",
              "startTime": "2026-07-01T10:00:00Z"}
    record.update(fields)
    return record


def record_usage(api: Any, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return api(RECORD, {"records": list(records)})["recordUsage"]  # type: ignore[no-any-return]


@pytest.fixture
def catalog(api: Any) -> Any:
    active_usage_catalog(api.tenant)
    return api


def test_each_record_is_answered_on_its_own(catalog: Any) -> None:
    api = catalog
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    # GIVEN one call with a good record and one of each problem
    batch = [rec("good", unitCode="MB", quantity="2048"), rec("neg", quantity="-1"),
             rec("decimals", quantity="1.1234567"), rec("res", resourceCode="NOPE"),
             rec("class", unitCode="EA"), rec("unit", unitCode="PB"),
             rec("range", endTime="2026-07-01T09:00:00Z"), rec("future", startTime=future),
             rec("prerated", quantity=None, preratedAmount="7.00"), rec("draft", resourceCode="DRAFTY"),
             rec("good2", resourceCode="TEXTS", quantity="3", accountExternalId="nobody-knows-me")]
    # WHEN it is sent
    payload = record_usage(api, batch)
    # THEN every record has its own answer, in order
    got = [(r["idempotencyKey"], r["outcome"], [(e["code"], e["field"]) for e in r["errors"]])
           for r in payload["results"]]
    assert got == [
        ("good", "ACCEPTED", []), ("neg", "REJECTED", [("NEGATIVE_QUANTITY", "quantity")]),
        ("decimals", "REJECTED", [("TOO_MANY_DECIMALS", "quantity")]),
        ("res", "REJECTED", [("UNKNOWN_RESOURCE", "resourceCode")]),
        ("class", "REJECTED", [("UNIT_NOT_IN_CLASS", "unitCode")]),
        ("unit", "REJECTED", [("UNKNOWN_UNIT", "unitCode")]),
        ("range", "REJECTED", [("INVALID_RANGE", "endTime")]), ("future", "REJECTED", [("FUTURE_START", "startTime")]),
        ("prerated", "REJECTED", [("PRERATED_INCOMPLETE", "preratedQuantity")]),
        ("draft", "REJECTED", [("INACTIVE_REFERENCE", "resourceCode")]),
        ("good2", "ACCEPTED", [])]
    assert (payload["accepted"], payload["duplicates"], payload["rejected"], payload["errors"]) == (2, 0, 9, [])
    # AND the accepted records are stored, NEW, with their unit — an unknown account too
    good = payload["results"][0]["usageRecord"]
    assert (good["status"], good["quantity"], good["unitCode"], good["unit"]["unitCode"], good["attempt"]) == (
        "NEW", "2048", "MB", "MB", 0)
    assert good["resource"]["code"] == "DATA" and good["endTime"] == good["startTime"] == "2026-07-01T10:00:00Z"
    stored = api(GET, {"id": payload["results"][10]["usageRecord"]["id"]})["usageRecord"]
    assert (stored["status"], stored["quantity"], stored["unitCode"]) == ("NEW", "3", "EA")
    assert [r["usageRecord"] for r in payload["results"][1:10]] == [None] * 9


def test_a_repeat_is_a_duplicate_with_the_original(catalog: Any) -> None:
    api = catalog
    first = record_usage(api, [rec("k1", quantity="1")])["results"][0]["usageRecord"]
    # WHEN the same key comes again (with another quantity), also twice within one call
    again = record_usage(api, [rec("k1", quantity="5"), rec("k2"), rec("k2")])
    # THEN the repeat is DUPLICATE answered with the original; within the call the second k2 too
    assert [r["outcome"] for r in again["results"]] == ["DUPLICATE", "ACCEPTED", "DUPLICATE"]
    assert again["results"][0]["usageRecord"] == first
    assert again["results"][2]["usageRecord"]["id"] == again["results"][1]["usageRecord"]["id"]
    assert (again["accepted"], again["duplicates"]) == (1, 2)
    assert api(GET, {"id": first["id"]})["usageRecord"]["quantity"] == "1"


def stream_events(tenant: str) -> list[dict[str, Any]]:
    """Every stream record of the usage table that belongs to ``tenant`` (all shards, from the start)."""
    table = dynamodb_client().describe_table(TableName=get_settings().usage_table)["Table"]
    streams = streams_client()
    prefix = f"T#{tenant}#"
    events = []
    for shard in streams.describe_stream(StreamArn=table["LatestStreamArn"])["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=table["LatestStreamArn"], ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            events += [r for r in page["Records"] if r["dynamodb"]["Keys"]["pk"]["S"].startswith(prefix)]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return events


def test_two_identical_calls_racing_write_each_record_once(catalog: Any, app: Any) -> None:
    api = catalog
    batch = [rec(f"race-{i}") for i in range(150)]
    answers: list[dict[str, Any]] = []
    start = threading.Barrier(2)

    def send() -> None:
        from starlette.testclient import TestClient

        with TestClient(app) as client:
            start.wait()
            response = client.post("/graphql", json={"query": RECORD, "variables": {"records": batch}},
                                   headers={"Authorization": f"Bearer {api.keys[Role.PARTNER]}"})
            answers.append(response.json()["data"]["recordUsage"])

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # THEN across both answers each record is ACCEPTED once and DUPLICATE once, with the same record
    assert len(answers) == 2
    for index in range(150):
        pair = sorted((a["results"][index]["outcome"], a["results"][index]["usageRecord"]["id"]) for a in answers)
        assert [p[0] for p in pair] == ["ACCEPTED", "DUPLICATE"] and pair[0][1] == pair[1][1]
    # AND the stream saw exactly one INSERT per record and nothing else
    events = stream_events(api.tenant)
    assert sorted(e["eventName"] for e in events) == ["INSERT"] * 150


def test_more_than_1000_records_are_refused_as_a_whole(catalog: Any) -> None:
    api = catalog
    response = api.raw(RECORD, {"records": [rec(f"big-{i}") for i in range(1001)]})
    assert response.status_code == 200
    payload = response.json()["data"]["recordUsage"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("MAX_LIMIT_EXCEEDED", "records")]
    assert payload["results"] == [] and payload["accepted"] == 0
    assert api(GET, {"id": _gid(api.tenant, "big-0")})["usageRecord"] is None


def _gid(tenant: str, key: str) -> str:
    from graphql_api.types.usage import usage_global_id

    return str(usage_global_id(usage_record_id(tenant, key)))


def test_roles_and_tenants(catalog: Any, app: Any, store_endpoint: str) -> None:
    api = catalog
    # GIVEN a VIEWER WHEN it records usage THEN FORBIDDEN, nothing recorded
    viewer = api.as_role(Role.VIEWER).raw(RECORD, {"records": [rec("v1")]}).json()
    assert viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for denied in (VOID, SET_STATUS):
        variables = {"id": _gid(api.tenant, "p1"), "ids": [], "status": "NEW"}
        assert api.as_role(Role.VIEWER).raw(denied, variables).json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # AND a PARTNER may; a VIEWER may read
    partner = api.as_role(Role.PARTNER)
    record_id = record_usage(partner, [rec("p1")])["results"][0]["usageRecord"]["id"]
    assert api.as_role(Role.VIEWER)(GET, {"id": record_id})["usageRecord"]["idempotencyKey"] == "p1"
    # GIVEN another tenant's partner THEN it sees nothing of ours, and the same key is its own record
    from infra.bootstrap import bootstrap_tenant
    from tests.conftest import Api

    other_tenant = f"{api.tenant}-other"
    bootstrap_tenant(other_tenant)
    active_usage_catalog(other_tenant)
    other = Api(api.client, other_tenant).as_role(Role.PARTNER)
    assert other(GET, {"id": record_id})["usageRecord"] is None
    refused = other(VOID, {"id": record_id})["voidUsage"]
    assert [e["code"] for e in refused["errors"]] == ["NOT_FOUND"]
    assert record_usage(other, [rec("p1")])["results"][0]["outcome"] == "ACCEPTED"
    assert [r.tenant for _, r in UsageRepository(other_tenant).account_page("acme", 10)[0]] == [other_tenant]


def test_void_and_amend(catalog: Any) -> None:
    api = catalog
    [a, b] = [r["usageRecord"] for r in record_usage(api, [rec("a", quantity="10"), rec("b", quantity="4500",
                                                            resourceCode="TEXTS")])["results"]]
    # WHEN a is voided (twice: a retry)
    voided = api.ok(VOID, {"id": a["id"], "reason": "test traffic"})
    retried = api.ok(VOID, {"id": a["id"]})
    # THEN one VOID record points at a, keeps its service dates, and a is voided by it
    void = voided["correction"]
    assert retried["correction"] == void
    assert (void["correctionOf"], void["correctionKind"], void["quantity"], void["status"], void["reason"]) == (
        a["id"], "VOID", None, "NEW", "test traffic")
    assert (void["startTime"], void["endTime"]) == (a["startTime"], a["endTime"])
    assert voided["original"] == {"id": a["id"], "voided": True, "voidedBy": void["id"]}
    # WHEN b is amended
    amended = api.ok(AMEND, {"id": b["id"], "input": {"quantity": "4100", "reason": "meter fix"}})
    amend = amended["correction"]
    assert (amend["correctionOf"], amend["correctionKind"], amend["quantity"], amend["unitCode"]) == (
        b["id"], "AMEND", "4100", "EA")
    assert (amend["startTime"], amend["endTime"]) == (b["startTime"], b["endTime"])
    assert api(GET, {"id": b["id"]})["usageRecord"]["voidedBy"] == amend["id"]
    # AND corrected records refuse another correction, a VOID refuses any, bad values are typed errors
    for mutation, variables in ((AMEND, {"id": a["id"], "input": {"quantity": "1"}}), (VOID, {"id": b["id"]}),
                                (VOID, {"id": void["id"]})):
        payload = next(iter(api(mutation, variables).values()))
        assert [e["code"] for e in payload["errors"]] == ["STATUS_FORBIDS"]
    bad = api(AMEND, {"id": amend["id"], "input": {"quantity": "-1"}})["amendUsage"]
    assert [(e["code"], e["field"]) for e in bad["errors"]] == [("NEGATIVE_QUANTITY", "quantity")]
    nothing = api(VOID, {"id": "not-an-id"})["voidUsage"]
    assert [e["code"] for e in nothing["errors"]] == ["NOT_FOUND"]


def set_status(repo: UsageRepository, record_id: str, status: UsageStatus, code: str | None = None) -> None:
    """What rating does to a NEW record (its own write path): status and error, conditioned on NEW."""
    record = repo.get(record_id)
    assert record is not None
    rated = replace(record, status=status, error_code=code, error_message="a message" if code else None)
    repo.client.transact_write_items(TransactItems=[repo.rated_update(rated, record.attempt)])


def test_set_usage_status_sends_errors_back_once(catalog: Any) -> None:
    api = catalog
    results = record_usage(api, [rec(f"s{i}") for i in range(4)])["results"]
    ids = [r["usageRecord"]["id"] for r in results]
    repo = UsageRepository(api.tenant)
    raw = [usage_record_id(api.tenant, f"s{i}") for i in range(4)]
    set_status(repo, raw[0], UsageStatus.ERROR, "UNIT_NOT_IN_CLASS")
    set_status(repo, raw[1], UsageStatus.WARNING_UNRATED, "NO_SUBSCRIPTION")
    set_status(repo, raw[2], UsageStatus.PROCESSED)
    # WHEN all four are set back to NEW
    payload = api(SET_STATUS, {"ids": ids, "status": "NEW"})["setUsageStatus"]
    # THEN the ERROR and WARNING_UNRATED ones are NEW at attempt 1 without error; PROCESSED and NEW are refused
    assert payload["records"] == [{"id": ids[0], "status": "NEW", "attempt": 1, "errorCode": None},
                                  {"id": ids[1], "status": "NEW", "attempt": 1, "errorCode": None}]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("STATUS_FORBIDS", "ids.2"),
                                                                   ("STATUS_FORBIDS", "ids.3")]
    # AND rating's update of the old attempt no longer applies (exactly once per attempt)
    stale = repo.get(raw[0])
    assert stale is not None
    with pytest.raises(ClientError):
        repo.client.transact_write_items(TransactItems=[repo.rated_update(replace(stale, status=UsageStatus.ERROR),
                                                                          0)])
    # AND another target status refuses the call; unknown ids are NOT_FOUND
    refused = api(SET_STATUS, {"ids": ids[:1], "status": "PROCESSED"})["setUsageStatus"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_VALUE", "status")]
    unknown = api(SET_STATUS, {"ids": ["bogus", _gid(api.tenant, "nope")], "status": "NEW"})["setUsageStatus"]
    assert [(e["code"], e["field"]) for e in unknown["errors"]] == [("NOT_FOUND", "ids.0"), ("NOT_FOUND", "ids.1")]


def test_an_account_lists_its_records_newest_first_with_filters(catalog: Any) -> None:
    api = catalog
    # GIVEN five records of acme on five days, alternating resources, one of them in ERROR, and one of globex
    records = [rec(f"l{i}", startTime=f"2026-07-0{i + 1}T00:00:00Z", resourceCode="TEXTS" if i % 2 else "DATA")
               for i in range(5)]
    record_usage(api, records + [rec("other", accountExternalId="globex")])
    repo = UsageRepository(api.tenant)
    set_status(repo, usage_record_id(api.tenant, "l3"), UsageStatus.ERROR, "X")
    # WHEN the account's records are paged two at a time
    seen: list[str] = []
    after = None
    while True:
        page, more = repo.account_page("acme", 2, after)
        seen += [r.idempotency_key for _, r in page]
        if not more:
            break
        after = page[-1][0]
    # THEN every record of acme comes once, newest start first; filters narrow by status and resource
    assert seen == ["l4", "l3", "l2", "l1", "l0"]
    assert [r.idempotency_key for _, r in repo.account_page("acme", 10, status=UsageStatus.ERROR)[0]] == ["l3"]
    assert [r.idempotency_key for _, r in repo.account_page("acme", 10, resource_code="TEXTS")[0]] == ["l3", "l1"]


def test_account_usage_records_through_the_api(catalog: Any) -> None:
    api = catalog
    # GIVEN a subscribed account with three records
    api.ok(SUBSCRIBE, {"input": {"externalId": "sub-q", "accountExternalId": "acme", "productCode": "PLAN",
                                 "startDate": "2026-07-01T00:00:00Z"}})
    record_usage(api, [rec(f"q{i}", startTime=f"2026-07-0{i + 1}T00:00:00Z") for i in range(3)])
    # WHEN a front end pages them
    connection = api(LIST, {"account": "acme", "first": 2})["account"]["usageRecords"]
    rest = api(LIST, {"account": "acme", "after": connection["pageInfo"]["endCursor"]})["account"]["usageRecords"]
    # THEN newest first, two then one
    assert [e["node"]["idempotencyKey"] for e in connection["edges"]] == ["q2", "q1"]
    assert connection["pageInfo"]["hasNextPage"] and not rest["pageInfo"]["hasNextPage"]
    assert [e["node"]["idempotencyKey"] for e in rest["edges"]] == ["q0"]
    # AND the first page may hold up to 1,000, not more; a foreign cursor is a typed error
    too_many = api.raw(LIST, {"account": "acme", "first": 1001}).json()
    assert too_many["errors"][0]["extensions"]["code"] == "MAX_LIMIT_EXCEEDED"
    bad = api.raw(LIST, {"account": "acme", "after": "bm9wZQ"}).json()
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_VALUE"


class ClosedBefore:
    def __init__(self, cutoff: datetime):
        self.cutoff = cutoff

    def closed(self, tenant: str, records: Sequence[UsageRecord]) -> set[int]:
        return {i for i, r in enumerate(records) if r.end_time < self.cutoff}


def test_late_usage_is_refused_but_corrections_of_closed_periods_are_not(catalog: Any,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    api = catalog
    june = record_usage(api, [rec("june", startTime="2026-06-15T00:00:00Z")])["results"][0]["usageRecord"]
    # GIVEN June is closed (the summaries gate says so)
    import infra.usage_repo

    monkeypatch.setattr(infra.usage_repo, "period_gate", lambda tenant: ClosedBefore(datetime(2026, 7, 1, tzinfo=UTC)))
    # WHEN more June usage arrives THEN PERIOD_CLOSED; July is fine
    late = record_usage(api, [rec("june-late", startTime="2026-06-20T00:00:00Z"), rec("july")])
    assert [(r["outcome"], [e["code"] for e in r["errors"]]) for r in late["results"]] == [
        ("REJECTED", ["PERIOD_CLOSED"]), ("ACCEPTED", [])]
    # AND the June record can still be amended, keeping its service dates
    amended = api.ok(AMEND, {"id": june["id"], "input": {"quantity": "2"}})["correction"]
    assert amended["startTime"] == "2026-06-15T00:00:00Z"


def test_the_stored_item_and_its_stream_image_decode_to_the_record(catalog: Any) -> None:
    api = catalog
    record_usage(api, [rec("img", quantity="0.000001", dimensions={"region": "eu", "cores": 4, "ratio": 0.25},
                           subscriptionExternalId="sub-9", matchingAttribute="m1")])
    repo = UsageRepository(api.tenant)
    record = repo.get(usage_record_id(api.tenant, "img"))
    assert record is not None
    # THEN the INSERT's NewImage decodes to the same record (what rating reads from the stream)
    [insert] = [e for e in stream_events(api.tenant) if e["eventName"] == "INSERT"
                and e["dynamodb"]["Keys"]["pk"]["S"].endswith(f"#U#{record.id}")]
    image = insert["dynamodb"]["NewImage"]
    assert record_from_item(image) == record
    # AND the item is compact: what is filtered or conditioned on stands alone, the rest is one JSON attribute
    assert image["status"] == {"S": "NEW"} and image["attempt"] == {"N": "0"}
    assert image["tenant"] == {"S": api.tenant} and image["resource_code"] == {"S": "DATA"}
    body = json.loads(image["body"]["S"])
    assert body["quantity"] == "0.000001" and body["start_time"] == "2026-07-01T10:00:00.000000Z"
    assert body["idempotency_key"] == "img" and "rated" not in image and "voided" not in image
    assert record.dimensions == {"region": "eu", "cores": 4, "ratio": "0.25"}
    assert (record.subscription_external_id, record.matching_attribute) == ("sub-9", "m1")


def test_a_value_that_is_not_a_decimal_at_all_rejects_only_its_record(catalog: Any) -> None:
    # GIVEN a call whose second record's quantity and third record's startTime do not parse at all
    response = catalog(RECORD, {"records": [rec("t-1"), rec("t-2", quantity="abc"),
                                            rec("t-3", startTime="yesterday")]})["recordUsage"]
    # THEN only those records are REJECTED with a typed error naming the field; the first is stored
    outcomes = {r["idempotencyKey"]: (r["outcome"], [(e["code"], e["field"]) for e in r["errors"]])
                for r in response["results"]}
    assert outcomes["t-1"] == ("ACCEPTED", [])
    assert outcomes["t-2"][0] == "REJECTED" and outcomes["t-2"][1][0][0] == "INVALID_VALUE"
    assert outcomes["t-3"][0] == "REJECTED" and outcomes["t-3"][1][0][0] == "INVALID_VALUE"
    assert catalog(GET, {"id": _gid(catalog.tenant, "t-1")})["usageRecord"] is not None
    assert catalog(GET, {"id": _gid(catalog.tenant, "t-2")})["usageRecord"] is None


def test_a_warm_catalog_is_read_once_and_never_refuses_a_resource_created_a_moment_ago(
        catalog: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.catalog import RecordStatus, ResourceCategory, UsageResource
    from core.catalog.service import CatalogService
    from infra.catalog_repo import CatalogRepository
    from infra.usage_repo import RepositoryCatalog

    api = catalog
    reads: list[list[str]] = []  # the resources of each catalog read of ingestion
    read_now = RepositoryCatalog._read_now

    def counted(self: RepositoryCatalog, key: Any, codes: list[str], *args: Any) -> Any:
        reads.append(codes)
        return read_now(self, key, codes, *args)

    monkeypatch.setattr(RepositoryCatalog, "_read_now", counted)
    # GIVEN a call that read the catalog
    assert record_usage(api, [rec("w1")])["accepted"] == 1
    # WHEN the next calls ask for the same resource
    assert record_usage(api, [rec("w2")])["accepted"] == 1
    assert record_usage(api, [rec("w3", resourceCode="TEXTS", unitCode="EA", quantity="2")])["accepted"] == 1
    # THEN they are validated on the process's warm copy: read by the first call, and for the resource it did not
    # hold yet by the third
    assert reads == [["DATA"], ["TEXTS"]]
    # GIVEN usage for a resource that does not exist: refused, on one read (the warm copy did not hold it)
    answer = record_usage(api, [rec("w4", resourceCode="CALLS", unitCode="EA", quantity="1"), rec("w5")])
    assert (answer["accepted"], answer["rejected"]) == (1, 1)
    assert answer["results"][0]["errors"][0]["code"] == "UNKNOWN_RESOURCE"
    assert reads[2:] == [["CALLS", "DATA"]]
    # WHEN the resource is created, and usage for it arrives at once while the warm copy says it does not exist
    CatalogService(CatalogRepository(api.tenant)).create(
        UsageResource("CALLS", "Calls", ResourceCategory.USAGE, "COUNT", "EA", status=RecordStatus.ACTIVE))
    answer = record_usage(api, [rec("w6", resourceCode="CALLS", unitCode="EA", quantity="1"), rec("w7")])
    # THEN the catalog is read afresh before anything is refused: both are ACCEPTED
    assert answer["accepted"] == 2, answer
    assert reads[3:] == [["CALLS", "DATA"]]
    # AND from then on the warm copy holds it
    assert record_usage(api, [rec("w8", resourceCode="CALLS", unitCode="EA", quantity="1")])["accepted"] == 1
    assert len(reads) == 4
