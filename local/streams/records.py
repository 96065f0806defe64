"""The event Lambda sends: a GetRecords record in the shape Lambda hands a function, read raw from the wire so that
botocore does not parse every image only for it to be turned back."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

_RAW_RECORDS = "RawRecords"
_raw_reads = threading.local()  # set around a poller's own GetRecords: other users of the client see no change


def keep_records_raw(streams_client: Any) -> None:
    """Have the poller's GetRecords calls on this client return the records as the wire has them, in
    `RawRecords`: DynamoDB JSON with epoch-second times, the shape Lambda hands a function — instead of
    botocore's model-driven parse of every attribute of every image (a third of the cost of reading the stream
    locally), which `to_lambda_record` then turned back. Other calls on the client are untouched."""
    events = getattr(getattr(streams_client, "meta", None), "events", None)
    if events is not None:  # a botocore client (tests hand some pollers a scripted stand-in)
        events.register("before-parse.dynamodb-streams.GetRecords", _split_records,
                        unique_id="usage-poller-raw-records")


def get_records(streams_client: Any, iterator: str, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """One GetRecords call: its records (raw when `keep_records_raw` was called on the client, else as botocore
    parses them; `to_lambda_record` takes either) and the next shard iterator (None: the shard is closed and read
    to its end). Errors are botocore's `ClientError`s."""
    _raw_reads.on = True
    try:
        response = streams_client.get_records(ShardIterator=iterator, Limit=limit)
    finally:
        _raw_reads.on = False
    records = response[_RAW_RECORDS] if _RAW_RECORDS in response else response["Records"]
    return records, response.get("NextShardIterator")


def _split_records(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    if not getattr(_raw_reads, "on", False) or response_dict.get("status_code") != 200:
        return
    body = json.loads(response_dict["body"])
    customized_response_dict[_RAW_RECORDS] = body.pop("Records", [])
    response_dict["body"] = json.dumps(body).encode()


def to_lambda_record(raw: Mapping[str, Any], *, stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record (as boto3 returns it, or raw from the wire) in the shape Lambda gives a function.

    Lambda adds `eventSourceARN`, writes `ApproximateCreationDateTime` as epoch seconds and `eventVersion`
    as "1.1" (moto's records say "1.0"); `awsRegion` is the region of the mapping (DynamoDB Local says
    "ddblocal").
    """
    stream = raw["dynamodb"]
    created = stream.get("ApproximateCreationDateTime")
    body: dict[str, Any] = {name: stream[name] for name in ("Keys", "NewImage", "OldImage") if name in stream}
    if created is not None:
        body["ApproximateCreationDateTime"] = int(created.timestamp() if hasattr(created, "timestamp") else created)
    body |= {name: stream[name] for name in ("SequenceNumber", "SizeBytes", "StreamViewType") if name in stream}
    record: dict[str, Any] = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": body,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:  # deletions by TTL
        record["userIdentity"] = raw["userIdentity"]
    return record
