"""Reading a table's stream shard by shard, as an event source mapping does: parent shards before their children,
from a checkpoint (or TRIM_HORIZON / LATEST), in batches of at most ``batch_size`` records that pass the filter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from local.streams.filters import matches_any
from local.streams.records import get_records, keep_records_raw, to_lambda_record

_MAX_GET_RECORDS = 1000


@dataclass
class Shard:
    shard_id: str
    parent_id: str | None
    iterator: str | None = None
    checkpoint: str | None = None  # the last sequence number done with
    from_latest: bool = False
    finished: bool = False  # closed, and read to its end


class ShardReader:
    """The shards of one table's stream and where each has been read to."""

    def __init__(
        self,
        dynamodb_client: Any,
        streams_client: Any,
        table_name: str,
        *,
        batch_size: int,
        patterns: Sequence[Mapping[str, Any]],
        starting_position: Literal["TRIM_HORIZON", "LATEST"],
        region: str,
    ) -> None:
        self._dynamodb = dynamodb_client
        self._streams = streams_client
        keep_records_raw(streams_client)
        self.table_name = table_name
        self.batch_size = batch_size
        self._patterns = patterns
        self.starting_position = starting_position
        self.region = region
        self.stream_arn: str | None = None
        self._shards: dict[str, Shard] = {}

    def open_stream(self) -> None:
        if self.stream_arn is not None:
            return
        table = self._dynamodb.describe_table(TableName=self.table_name)["Table"]
        if not table.get("StreamSpecification", {}).get("StreamEnabled") or "LatestStreamArn" not in table:
            raise ValueError(f"table {self.table_name} has no stream enabled")
        self.stream_arn = table["LatestStreamArn"]
        self.discover_shards()
        if self.starting_position == "LATEST":
            for shard in self._shards.values():
                shard.from_latest = True
                shard.iterator = self._iterator(shard)

    def renew_iterators(self) -> None:
        """Each pass reads on from the checkpoint with an iterator of its own: one kept from the last pass may read a
        shard the store has since replaced (moto's TransactWriteItems rolls back a cancelled transaction by swapping
        in a copy of each table it touched, stream included). A LATEST shard that has delivered nothing yet keeps its
        iterator, so no record slips past between passes."""
        for shard in self._shards.values():
            if shard.checkpoint is not None or not shard.from_latest:
                shard.iterator = None

    def discover_shards(self) -> None:
        request: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self._streams.describe_stream(**request)["StreamDescription"]
            for shard in description["Shards"]:
                if shard["ShardId"] not in self._shards:
                    self._shards[shard["ShardId"]] = Shard(shard["ShardId"], shard.get("ParentShardId"))
            if not description.get("LastEvaluatedShardId"):
                return
            request["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]

    def ready_shards(self) -> list[Shard]:
        def parent_done(shard: Shard) -> bool:
            parent = self._shards.get(shard.parent_id or "")
            return parent is None or parent.finished  # a parent trimmed from the stream is done

        return [shard for shard in self._shards.values() if not shard.finished and parent_done(shard)]

    def _iterator(self, shard: Shard) -> str:
        request: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard.shard_id}
        if shard.checkpoint is not None:
            request |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.checkpoint}
        else:
            request["ShardIteratorType"] = "LATEST" if shard.from_latest else "TRIM_HORIZON"
        return str(self._streams.get_shard_iterator(**request)["ShardIterator"])

    def read(self, shard: Shard) -> tuple[list[dict[str, Any]], str | None, str | None, bool]:
        """Up to `batch_size` records that pass the filter, the last sequence number read, the next iterator."""
        assert self.stream_arn is not None
        iterator: str | None = shard.iterator or self._iterator(shard)
        batch: list[dict[str, Any]] = []
        last_sequence = shard.checkpoint
        while iterator is not None and len(batch) < self.batch_size:
            try:
                limit = min(_MAX_GET_RECORDS, self.batch_size - len(batch))
                records, next_iterator = get_records(self._streams, iterator, limit)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                if code == "TrimmedDataAccessException":
                    # what we were after is gone (or, on DynamoDB Local, a LATEST iterator taken while the shard was
                    # still empty now points before its first record): read from the oldest record left
                    shard.checkpoint = last_sequence = None
                    shard.from_latest = False
                elif code != "ExpiredIteratorException":
                    raise
                iterator = self._iterator(shard)
                continue
            for raw in records:
                last_sequence = raw["dynamodb"]["SequenceNumber"]
                record = to_lambda_record(raw, stream_arn=self.stream_arn, region=self.region)
                if matches_any(self._patterns, record):
                    batch.append(record)
            iterator = next_iterator
            if not records:
                return batch, last_sequence, iterator, True
        return batch, last_sequence, iterator, False
