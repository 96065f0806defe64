"""Reconciliation reads the stream functions' on-failure queues (issue 15 §2): a batch given up on makes the
report not clean; a queue it cannot read is said so, not hidden."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from infra.reconciliation import Reconciliation, failure_queue_depths

RATE_QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/rate-failures"
SUMMARIZE_QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/summarize-failures"


class Queues:
    """An SQS client's GetQueueAttributes over fixed depths (a URL not in ``depths``: access denied)."""

    def __init__(self, depths: dict[str, tuple[int, int]]):
        self.depths = depths

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
        if QueueUrl not in self.depths:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetQueueAttributes")
        visible, in_flight = self.depths[QueueUrl]
        return {"Attributes": {"ApproximateNumberOfMessages": str(visible),
                               "ApproximateNumberOfMessagesNotVisible": str(in_flight)}}


def test_a_batch_waiting_in_an_on_failure_queue_makes_the_report_not_clean() -> None:
    # GIVEN the rate queue holding one given-up batch (and one being looked at), the summarize queue empty
    depths = failure_queue_depths([RATE_QUEUE, SUMMARIZE_QUEUE], Queues({RATE_QUEUE: (1, 1), SUMMARIZE_QUEUE: (0, 0)}))
    # THEN both are counted, and a report holding them is not clean and names the queue
    assert depths == {RATE_QUEUE: 2, SUMMARIZE_QUEUE: 0}
    report = Reconciliation("acme", given_up=depths)
    assert not report.clean
    assert any(RATE_QUEUE in line and "2 stream batches given up on" in line for line in report.lines())
    # AND empty queues alone leave it clean
    assert Reconciliation("acme", given_up={SUMMARIZE_QUEUE: 0}).clean


def test_a_queue_that_cannot_be_read_is_reported_as_such() -> None:
    depths = failure_queue_depths([RATE_QUEUE], Queues({}))
    report = Reconciliation("acme", given_up=depths)
    assert depths == {RATE_QUEUE: None} and not report.clean
    assert any("could not be read" in line for line in report.lines())
    # AND no queues configured: nothing to read
    assert failure_queue_depths([]) == {}
