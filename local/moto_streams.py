"""GetRecords for the embedded moto store, answered as DynamoDB's own JSON.

moto 5 serializes a GetRecords response through its generic, model-driven serializer, which walks every
attribute of every record's images: about 3 ms per record, so reading 1,000 usage records took 3 s and the usage
stream, not rating, set the pace of `make serve`, the end-to-end tests and `make bench`. moto already holds each
stream record in DynamoDB JSON (the images as AttributeValues), so `install()` answers GetRecords by dumping
those with moto's own DynamoDB encoder, as its DynamoDB responses do: the same body, about ten times faster.

Only moto's in-process streams handler changes; DynamoDB Local and AWS are untouched. Installing twice is
harmless. ``local.pollers`` installs it (the pollers are what reads the stream locally).
"""

from __future__ import annotations

import json
import threading

from moto.dynamodb.models.utilities import DynamoJsonEncoder
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

_LOCK = threading.Lock()
_installed = False


def _get_records(self: DynamoDBStreamsHandler) -> str:
    iterator = self._get_param("ShardIterator")
    limit = self._get_param("Limit") or 1000
    return json.dumps(self.backend.get_records(iterator, limit), cls=DynamoJsonEncoder)


def install() -> None:
    global _installed
    with _LOCK:
        if not _installed:
            DynamoDBStreamsHandler.get_records = _get_records  # type: ignore[assignment,method-assign]
            _installed = True
