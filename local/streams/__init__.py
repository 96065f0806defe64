"""A local stand-in for Lambda's DynamoDB Streams event source mapping.

`StreamPoller` reads a table's stream through the DynamoDB Streams API of any endpoint (moto server, DynamoDB
Local, AWS) and invokes a Lambda handler with the event Lambda would send, configured like the mapping in
template.yaml:

    poller = StreamPoller(dynamodb, streams, "usage", rate.handler,
                          filter_patterns=['{"eventName": ["INSERT", "MODIFY"]}'], batch_size=100)
    poller.start()      # background thread (`make serve`)
    poller.drain()      # tests: every record now in the stream was handed over and its invocation finished
    poller.stop()
    drain_all([rate_poller, summarize_poller])  # until handlers that feed each other's streams are quiet

What it does as Lambda does: records of a shard in order, in batches of at most `batch_size`; parent shards
before their children; FilterCriteria (records that match no pattern are skipped); ReportBatchItemFailures
(checkpoint before the lowest failed sequence number, retry from there); on an exception the batch is bisected
(BisectBatchOnFunctionError), a failing batch is retried `max_retry_attempts` times and then handed to
`on_failure` (the on-failure destination) and skipped. What it does differently: one thread per poller works
through the shards in turn (Lambda runs shards in parallel); retries follow at once, without backoff; after
each pass over the stream it waits `batching_window_s` (MaximumBatchingWindowInSeconds), so records written
meanwhile form the next batches; splitting a batch costs no retry attempt.

The package: ``poller`` (the loop, ``drain``, ``drain_all``), ``shards`` (reading the stream shard by shard),
``delivery`` (invocation, retries, bisection), ``filters`` (FilterCriteria) and ``records`` (the event's shape).
"""


from local.streams.delivery import Event, Handler, InvalidBatchResponse, OnFailure, ReportedItemFailures
from local.streams.filters import compile_patterns, matches, matches_any
from local.streams.poller import StreamPoller, drain_all
from local.streams.records import to_lambda_record

__all__ = [
    "Event",
    "Handler",
    "InvalidBatchResponse",
    "OnFailure",
    "ReportedItemFailures",
    "StreamPoller",
    "compile_patterns",
    "drain_all",
    "matches",
    "matches_any",
    "to_lambda_record",
]
