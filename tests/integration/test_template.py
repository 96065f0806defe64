"""template.yaml is the deployable truth: these tests tie it to the code it deploys.

Handlers exist and are callable; tables have the key schemas, indexes and streams of infra/tables.py; the
environment holds exactly what infra.settings reads (and what Powertools reads); stream mappings are configured
for exactly-once processing; each failure path has an alarm. No AWS account is needed: the template is read as
data (deploy/template.py). `make check-template` lints, validates and builds it with the real tools.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from deploy.template import TEMPLATE_PATH, LambdaFunction, lambda_functions, load_template, resources_of_type
from infra.settings import Settings
from infra.tables import TABLES

TEMPLATE = load_template()
FUNCTIONS = {fn.logical_id: fn for fn in lambda_functions(TEMPLATE)}
STREAM_FUNCTIONS = ("RateFunction", "SummarizeFunction")
API_FUNCTION = "ApiFunction"

#: Read by Powertools (Logger, Tracer, Metrics), not by Settings.
POWERTOOLS_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL", "LOG_LEVEL", "POWERTOOLS_METRICS_NAMESPACE"}
#: Lambda sets these itself (a template may not).
LAMBDA_RESERVED = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                   "AWS_SESSION_TOKEN", "AWS_LAMBDA_FUNCTION_NAME"}
#: For a laptop only: in a deployment they would point the functions away from AWS, or open a backdoor key.
LOCAL_ONLY = {"HOST", "PORT", "USAGE_DEV_API_KEY"}
#: Settings variables that name a resource: every function must be told which one (by a Ref to it).
RESOURCE_NAME_SUFFIXES = {"_TABLE": "AWS::DynamoDB::Table", "_BUCKET": "AWS::S3::Bucket",
                          "_QUEUE_URL": "AWS::SQS::Queue"}


class RecordingEnv(dict[str, str]):
    """An environment that remembers every variable asked for."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        super().__init__(values or {})
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)


def settings_variables() -> set[str]:
    env = RecordingEnv()
    Settings.from_env(env)
    return env.asked


def ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def resolved_settings() -> Settings:
    """Settings as a deployed function sees them, with each `!Ref Resource` standing for the resource's name."""
    env = {name: ref(value) or str(value) for name, value in FUNCTIONS[API_FUNCTION].environment.items()}
    return Settings.from_env(env)


def functions() -> Iterator[Any]:
    for fn in FUNCTIONS.values():
        yield pytest.param(fn, id=fn.logical_id)


# --------------------------------------------------------------------------------------------------- handlers


@pytest.mark.parametrize("fn", functions())
def test_every_handler_is_an_importable_callable(fn: LambdaFunction) -> None:
    # GIVEN a function of the template
    # WHEN its handler path is resolved the way Lambda's Python runtime does
    assert fn.source_path.exists(), f"{fn.logical_id}: {fn.handler} names {fn.source_path}, which does not exist"
    module = importlib.import_module(fn.module)
    # THEN the module imports and exposes a callable of that name
    assert callable(getattr(module, fn.attribute, None)), f"{fn.module} has no callable {fn.attribute!r}"


def test_all_functions_run_python313_on_one_architecture_with_powertools_configured() -> None:
    for fn in FUNCTIONS.values():
        assert fn.properties["Runtime"] == "python3.13", fn.logical_id
        assert fn.properties["Architectures"] == ["arm64"], fn.logical_id
        assert fn.properties["CodeUri"] == "deploy/", fn.logical_id
        assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL"} <= set(fn.environment), fn.logical_id
        assert TEMPLATE["Resources"][fn.logical_id]["Metadata"]["BuildMethod"] == "makefile", fn.logical_id


def test_the_artifacts_are_built_for_the_runtime_of_the_template() -> None:
    # GIVEN the runtime every function runs on, and the Python version deploy/Makefile builds for
    (runtime,) = {fn.properties["Runtime"] for fn in FUNCTIONS.values()}
    makefile = (TEMPLATE_PATH.parent / "deploy" / "Makefile").read_text()
    (built_for,) = re.findall(r"^PYTHON_VERSION := (\S+)$", makefile, re.MULTILINE)
    # THEN they agree: bytecode compiled for another version would be ignored (every cold start compiling again)
    assert runtime == f"python{built_for}"


def test_only_the_api_function_uses_snapstart_on_its_published_alias() -> None:
    # GIVEN the API function (latency-bound: a person or a partner's client waits for its cold start)
    api = FUNCTIONS[API_FUNCTION]
    # THEN SnapStart applies to its published versions, which SAM publishes under an alias on every deploy (SAM
    # points the HTTP API's routes at that alias; scripts/check-template.sh checks the transformed template)
    assert api.properties["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert api.properties["AutoPublishAlias"] == "live"
    assert int(api.properties.get("EphemeralStorage", {}).get("Size", 512)) <= 512  # SnapStart's limit
    assert "ProvisionedConcurrencyConfig" not in api.properties  # mutually exclusive with SnapStart
    # AND the stream and scheduled functions, whose cold starts nobody waits for, pay no snapshot costs
    assert [fn.logical_id for fn in FUNCTIONS.values() if "SnapStart" in fn.properties] == [API_FUNCTION]


def test_each_function_has_a_build_target_in_the_build_makefile() -> None:
    # GIVEN the Makefile sam build runs for every function (BuildMethod: makefile)
    makefile = (TEMPLATE_PATH.parent / "deploy" / "Makefile").read_text()
    # THEN it has a build-<LogicalId> target for each of them
    missing = [name for name in FUNCTIONS if f"\nbuild-{name}:" not in makefile]
    assert not missing, f"deploy/Makefile has no build target for {missing}"


# --------------------------------------------------------------------------------------------------- tables


def normalized(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a table definition that must agree, in a comparable form (CreateTable or template)."""

    def indexes(key: str) -> dict[str, Any]:
        return {
            index["IndexName"]: {
                "KeySchema": index["KeySchema"],
                "ProjectionType": index["Projection"]["ProjectionType"],
                "NonKeyAttributes": sorted(index["Projection"].get("NonKeyAttributes", [])),
            }
            for index in spec.get(key, [])
        }

    stream = spec.get("StreamSpecification") or {}
    enabled = stream.get("StreamEnabled", "StreamViewType" in stream)
    return {
        "KeySchema": spec["KeySchema"],
        "AttributeDefinitions": sorted(spec["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
        "GlobalSecondaryIndexes": indexes("GlobalSecondaryIndexes"),
        "LocalSecondaryIndexes": indexes("LocalSecondaryIndexes"),
        "BillingMode": spec.get("BillingMode", "PROVISIONED"),
        "StreamViewType": stream.get("StreamViewType") if enabled else None,
    }


def test_every_table_of_infra_tables_is_in_the_template_with_the_same_keys_indexes_and_stream() -> None:
    # GIVEN the table names a deployed function is given (the resources its environment refers to)
    settings = resolved_settings()
    template_tables = resources_of_type(TEMPLATE, "AWS::DynamoDB::Table")
    seen = set()
    for table in TABLES:
        spec = table(settings)
        name = spec["TableName"]
        # THEN each table the code creates is a table resource of the template ...
        assert name in template_tables, (
            f"infra/tables.py defines {table.__name__} (named {name!r} in a deployment): add it to template.yaml "
            f"and pass its name to the functions in Globals.Function.Environment"
        )
        # ... with the same key schema, attribute definitions, indexes, billing mode and stream
        assert normalized(template_tables[name]["Properties"]) == normalized(spec), name
        seen.add(name)
    # AND the template defines no table the code does not know
    assert set(template_tables) == seen


def test_every_table_is_on_demand_recoverable_encrypted_and_kept_on_stack_deletion() -> None:
    for name, table in resources_of_type(TEMPLATE, "AWS::DynamoDB::Table").items():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST", name
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
        assert properties["SSESpecification"]["SSEEnabled"] is True, name
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain", name
        ttl = properties.get("TimeToLiveSpecification")
        assert ttl is None or (ttl["Enabled"] is True and ttl["AttributeName"]), name


def test_the_usage_table_streams_new_and_old_images_to_rate_and_summarize() -> None:
    usage = TEMPLATE["Resources"]["UsageTable"]["Properties"]
    assert usage["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    for name in STREAM_FUNCTIONS:
        (mapping,) = FUNCTIONS[name].events_of_type("DynamoDB")
        assert mapping["Stream"] == {"Fn::GetAtt": ["UsageTable", "StreamArn"]}, name


# --------------------------------------------------------------------------------------------------- environment


def test_every_variable_the_template_sets_is_read_by_settings_or_powertools() -> None:
    # GIVEN what infra.settings reads
    known = settings_variables() | POWERTOOLS_VARIABLES
    for fn in FUNCTIONS.values():
        # THEN a function is given nothing else (a typo or a stale name would be silently ignored)
        unknown = set(fn.environment) - known
        assert not unknown, f"{fn.logical_id} sets {sorted(unknown)}, which nothing reads"
        # AND nothing Lambda reserves, nor a laptop-only setting that would point it away from AWS
        forbidden = set(fn.environment) & (LAMBDA_RESERVED | LOCAL_ONLY)
        forbidden |= {name for name in fn.environment if name.startswith("AWS_ENDPOINT_URL")}
        assert not forbidden, f"{fn.logical_id} sets {sorted(forbidden)}"


def test_every_resource_name_settings_reads_is_given_to_every_function_as_a_ref_to_such_a_resource() -> None:
    # GIVEN the variables of infra.settings that name a table, bucket or queue
    wanted = {name: kind for name in settings_variables() for suffix, kind in RESOURCE_NAME_SUFFIXES.items()
              if name.endswith(suffix)}
    assert {"CATALOG_TABLE", "ACCOUNTS_TABLE", "USAGE_TABLE"} <= set(wanted)
    for fn in FUNCTIONS.values():
        for variable, kind in wanted.items():
            # THEN every function gets each of them, as a reference to a resource of that kind in the template
            value = fn.environment.get(variable)
            assert value is not None, f"{fn.logical_id} does not set {variable}: it would use the local default"
            target = ref(value) or named_by(value, kind)
            assert target in TEMPLATE["Resources"], (
                f"{fn.logical_id}: {variable} must be !Ref of a resource, or the name it is created with")
            assert TEMPLATE["Resources"][target]["Type"] == kind, f"{fn.logical_id}: {variable} -> {target}"


def named_by(value: Any, kind: str) -> str | None:
    """The resource of ``kind`` whose explicit name (e.g. a bucket's ``BucketName``) is exactly ``value``."""
    names = {"AWS::S3::Bucket": "BucketName", "AWS::SQS::Queue": "QueueName", "AWS::DynamoDB::Table": "TableName"}
    return next((name for name, resource in resources_of_type(TEMPLATE, kind).items()
                 if resource.get("Properties", {}).get(names[kind]) == value), None)


def test_the_api_may_presign_uploads_under_incoming_and_reads_of_reports_only() -> None:
    # GIVEN the bucket's name as the API function gets it, and the prefixes the ingest function uses
    api = FUNCTIONS[API_FUNCTION]
    bucket = api.environment["FILES_BUCKET"]
    assert named_by(bucket, "AWS::S3::Bucket") == "FilesBucket"
    ingest = FUNCTIONS["IngestFunction"].environment
    statements = [s for p in api.properties["Policies"] if isinstance(p, dict) and "Statement" in p
                  for s in p["Statement"]]
    granted = {(s["Action"], s["Resource"]["Fn::Sub"][0].rsplit("/", 2)[-2]) for s in statements
               if str(s["Action"]).startswith("s3:")}
    # THEN the API's role may put objects under the ingest prefix and get reports, nothing else in S3
    assert granted == {("s3:PutObject", ingest["INGEST_PREFIX"].strip("/")),
                       ("s3:GetObject", ingest["INGEST_REPORT_PREFIX"].strip("/"))}
    for statement in statements:
        assert statement["Resource"]["Fn::Sub"][1] == bucket["Fn::Sub"][1]  # the same bucket
    # AND browsers may PUT files and GET reports across origins
    cors = TEMPLATE["Resources"]["FilesBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert {"PUT", "GET"} <= set(cors[0]["AllowedMethods"])


def test_metrics_have_a_namespace_and_tracing_is_on_for_every_function() -> None:
    for fn in FUNCTIONS.values():
        assert fn.environment.get("POWERTOOLS_METRICS_NAMESPACE"), fn.logical_id
        assert fn.properties.get("Tracing") == "Active", fn.logical_id


# --------------------------------------------------------------------------------------------------- triggers


@pytest.mark.parametrize("name", STREAM_FUNCTIONS)
def test_stream_mappings_are_set_up_for_partial_batch_failures_and_an_on_failure_queue(name: str) -> None:
    (mapping,) = FUNCTIONS[name].events_of_type("DynamoDB")
    # THEN a failing record is reported, not retried with its whole batch; a failing batch is split, retried a
    # bounded number of times, and then recorded in a queue instead of blocking the shard
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 0 <= mapping["MaximumRetryAttempts"] <= 10
    assert 1 <= mapping["BatchSize"] <= 10_000
    assert 0 <= mapping["MaximumBatchingWindowInSeconds"] <= 300
    assert 1 <= mapping["ParallelizationFactor"] <= 10
    assert mapping["StartingPosition"] == "TRIM_HORIZON"  # nothing written before the mapping is lost
    queue = mapping["DestinationConfig"]["OnFailure"]["Destination"]
    assert queue["Fn::GetAtt"][1] == "Arn"
    assert TEMPLATE["Resources"][queue["Fn::GetAtt"][0]]["Type"] == "AWS::SQS::Queue"
    # AND Lambda filters the stream before invoking the function
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert patterns and all(isinstance(p, dict) for p in patterns)


STREAM_HANDLERS = {"RateFunction": "functions.rate.handler", "SummarizeFunction": "functions.summarize.handler"}


def stream_mapping(name: str) -> dict[str, Any]:
    (mapping,) = FUNCTIONS[name].events_of_type("DynamoDB")
    return mapping


def template_patterns(name: str) -> list[dict[str, Any]]:
    return [json.loads(f["Pattern"]) for f in stream_mapping(name)["FilterCriteria"]["Filters"]]


@pytest.mark.parametrize("name", STREAM_FUNCTIONS)
def test_stream_mappings_use_the_values_the_handlers_declare(name: str) -> None:
    # GIVEN the settings a stream handler declares for its event source mapping (make serve polls with them)
    assert FUNCTIONS[name].module == STREAM_HANDLERS[name]
    handler = importlib.import_module(STREAM_HANDLERS[name])
    mapping = stream_mapping(name)
    # THEN the deployed mapping uses exactly those
    assert template_patterns(name) == [json.loads(p) for p in handler.FILTER_PATTERNS]
    assert mapping["BatchSize"] == handler.BATCH_SIZE
    assert mapping["MaximumBatchingWindowInSeconds"] == handler.BATCHING_WINDOW_S
    assert mapping["MaximumRetryAttempts"] == handler.MAX_RETRY_ATTEMPTS


def usage_change(event_name: str, **fields: Any) -> dict[str, Any]:
    """A stream record (as Lambda filters it) of a usage item encoded as the usage repository writes it."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from core.usage import UsageRecord, usage_record_id
    from infra.usage_repo import to_item

    at = datetime(2026, 7, 1, tzinfo=UTC)
    record = UsageRecord(id=usage_record_id("t-1", "k-1"), tenant="t-1", idempotency_key="k-1",
                         account_external_id="ACME", resource_code="TEXTS", start_time=at, end_time=at,
                         received_at=at, quantity=Decimal(5), unit_code="TEXT", **fields)
    image = to_item(record)
    body = {"Keys": {"pk": image["pk"], "sk": image["sk"]}, "SequenceNumber": "1", "SizeBytes": 10,
            "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if event_name != "REMOVE":
        body["NewImage"] = image
    return {"eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": body}


@pytest.mark.parametrize(("change", "expected"), [
    pytest.param(lambda: usage_change("INSERT"), {"RateFunction"}, id="new record"),
    pytest.param(lambda: usage_change("MODIFY", attempt=1), {"RateFunction"}, id="record sent back to NEW"),
    pytest.param(lambda: usage_change("INSERT", correction_of="abc", correction_kind="VOID"),
                 {"SummarizeFunction"}, id="new correction"),
    pytest.param(lambda: usage_change("MODIFY", status="PROCESSED"), set(), id="rated record"),
    pytest.param(lambda: usage_change("MODIFY", status="ERROR", error_code="UNKNOWN_UNIT"), set(), id="error"),
    pytest.param(lambda: usage_change("MODIFY", status="WARNING_UNRATED"), set(), id="unrated"),
    pytest.param(lambda: usage_change("REMOVE"), set(), id="removal"),
])
def test_filter_criteria_hand_each_usage_change_to_the_one_function_that_processes_it(
        change: Any, expected: set[str]) -> None:
    from local.streams import compile_patterns, matches_any

    # GIVEN a change of a usage item, encoded as infra/usage_repo.py writes it
    record = change()
    # WHEN Lambda applies each mapping's FilterCriteria
    filters = {name: compile_patterns([f["Pattern"] for f in stream_mapping(name)["FilterCriteria"]["Filters"]])
               for name in STREAM_FUNCTIONS}
    invoked = {name for name, patterns in filters.items() if matches_any(patterns, record)}
    # THEN exactly the function that acts on it is invoked: nothing is processed twice or not at all
    assert invoked == expected


def test_ingest_runs_on_files_created_under_its_prefix_and_its_reports_do_not_trigger_it() -> None:
    ingest = FUNCTIONS["IngestFunction"]
    (trigger,) = ingest.events_of_type("S3")
    assert trigger["Bucket"] == {"Ref": "FilesBucket"}
    assert trigger["Events"] == "s3:ObjectCreated:*"
    # GIVEN the prefixes the ingest function is configured with
    settings = Settings.from_env({name: str(value) for name, value in ingest.environment.items() if not ref(value)})
    # THEN the notification filters on the input prefix, and the reports are written outside it
    assert trigger["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": settings.ingest_prefix}]
    assert not settings.ingest_report_prefix.startswith(settings.ingest_prefix)
    assert not settings.ingest_prefix.startswith(settings.ingest_report_prefix)
    invoke = FUNCTIONS["IngestFunction"].properties["EventInvokeConfig"]
    assert invoke["DestinationConfig"]["OnFailure"]["Type"] == "SQS"


def test_period_close_runs_on_a_schedule_and_reconciliation_on_demand() -> None:
    assert FUNCTIONS["ClosePeriodsFunction"].module == "functions.summarize.close"
    (schedule,) = FUNCTIONS["ClosePeriodsFunction"].events_of_type("Schedule")
    assert schedule["Schedule"].startswith(("rate(", "cron("))
    # reconciliation checks one named tenant ({"tenant": ...}); a scheduled event names none
    assert FUNCTIONS["ReconcileFunction"].module == "functions.summarize.reconcile"
    assert FUNCTIONS["ReconcileFunction"].events == {}
    assert all(grants == {"DynamoDBReadPolicy"} for grants in policy_tables(FUNCTIONS["ReconcileFunction"]).values())


def test_the_api_function_serves_graphql_graphiql_files_and_health_on_the_http_api() -> None:
    from graphql_api.ide import ASSETS_PATH

    api = FUNCTIONS[API_FUNCTION]
    routes = {(e["Path"], e["Method"]) for e in api.events_of_type("HttpApi")}
    assert routes == {("/graphql", "POST"), ("/graphql", "GET"), ("/health", "GET"),
                      (f"{ASSETS_PATH}/{{file+}}", "GET")}
    assert api.module == "graphql_api.handler"
    assert api.properties["Timeout"] <= 30  # an HTTP API integration gives up after 30 s


# --------------------------------------------------------------------------------------------------- alarms


def alarms() -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm").values()]


def alarmed(metric: str, dimension: str) -> set[str]:
    found = set()
    for alarm in alarms():
        if alarm["MetricName"] == metric:
            assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
            (dim,) = alarm["Dimensions"]
            assert dim["Name"] == dimension
            value = dim["Value"]
            found.add(ref(value) or value["Fn::GetAtt"][0])
    return found


def test_every_function_has_an_errors_alarm() -> None:
    assert alarmed("Errors", "FunctionName") == set(FUNCTIONS)


def test_every_stream_function_has_an_iterator_age_alarm() -> None:
    assert alarmed("IteratorAge", "FunctionName") == set(STREAM_FUNCTIONS)


def test_every_failure_queue_has_a_depth_alarm() -> None:
    assert alarmed("ApproximateNumberOfMessagesVisible", "QueueName") == set(
        resources_of_type(TEMPLATE, "AWS::SQS::Queue"))


# --------------------------------------------------------------------------------------------------- IAM


def policy_tables(fn: LambdaFunction) -> dict[str, set[str]]:
    granted: dict[str, set[str]] = {}
    for policy in fn.properties.get("Policies", []):
        assert isinstance(policy, dict) and len(policy) == 1, f"{fn.logical_id}: use SAM policy templates"
        (template_name, args), = policy.items()
        if template_name.startswith("DynamoDB"):
            granted.setdefault(str(ref(args["TableName"])), set()).add(template_name)
    return granted


def test_functions_get_policy_templates_scoped_to_a_table_and_only_stream_readers_touch_the_stream() -> None:
    for fn in FUNCTIONS.values():
        assert "Role" not in fn.properties, fn.logical_id
        granted = policy_tables(fn)
        # THEN every grant names one table of the template, and never the same table twice
        for table, templates in granted.items():
            assert TEMPLATE["Resources"][table]["Type"] == "AWS::DynamoDB::Table", fn.logical_id
            assert len(templates) == 1, f"{fn.logical_id} has {templates} on {table}"
    # AND the scheduled close only writes summaries
    assert policy_tables(FUNCTIONS["ClosePeriodsFunction"]) == {"SummariesTable": {"DynamoDBCrudPolicy"}}


def test_outputs_name_the_api_url_tables_and_bucket() -> None:
    outputs = TEMPLATE["Outputs"]
    assert "/graphql" in outputs["ApiUrl"]["Value"]["Fn::Sub"]
    for table in resources_of_type(TEMPLATE, "AWS::DynamoDB::Table"):
        assert any(ref(o["Value"]) == table for o in outputs.values()), f"no output names {table}"
    assert ref(outputs["FilesBucketName"]["Value"]) == "FilesBucket"
