"""The files bucket and its ingest trigger, locally: what S3's ObjectCreated notification → IngestFunction does in
the cloud (template.yaml ``FileDropped``), for `make serve` and the end-to-end tests.

``start_files`` creates the bucket (FILES_BUCKET, with the CORS rules browsers need) in the embedded store's S3,
and a ``FilesTrigger`` thread lists ``{INGEST_PREFIX}`` every half second: each object it has not seen yet (or
seen with another ETag: a new version) is handed to ``functions/ingest/handler.py`` in the event Lambda gets
(events/ingest-s3-put.json), with the function's two retries (``EventInvokeConfig.MaximumRetryAttempts``).

    trigger = start_files(get_settings())   # a thread; FilesTrigger(settings).poll_once() in tests
    ...
    trigger.stop()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from infra.files import ensure_bucket, s3_client
from infra.settings import Settings

logger = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Any], Any]
#: IngestFunction's EventInvokeConfig (template.yaml): an asynchronous invocation is retried twice
MAX_RETRY_ATTEMPTS = 2


def object_created_event(bucket: str, key: str, etag: str, size: int, region: str, sequencer: str) -> dict[str, Any]:
    """The event S3 sends the function for one new object (the shape of events/ingest-s3-put.json)."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region,
        "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "local"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"}, "responseElements": {},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "FileDropped",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "local"}, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag, "sequencer": sequencer}},
    }]}


class FilesTrigger:
    """Hands each new object under the ingest prefix to the ingest handler once (per ETag)."""

    def __init__(self, settings: Settings, handler: Handler | None = None, interval_s: float = 0.5):
        if handler is None:
            from functions.ingest.handler import handler as ingest

            handler = ingest
        self.settings = settings
        self.handler = handler
        self.interval_s = interval_s
        self.seen: dict[str, str] = {}
        self.failures: list[tuple[dict[str, Any], BaseException]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sequence = 0

    def poll_once(self) -> list[Any]:
        """Deliver every new object now; the handler's answers, in listing order."""
        from local.lambda_context import LocalLambdaContext

        answers = []
        pages = s3_client(self.settings).get_paginator("list_objects_v2").paginate(
            Bucket=self.settings.files_bucket, Prefix=self.settings.ingest_prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                key, etag = obj["Key"], str(obj["ETag"]).strip('"')
                if self.seen.get(key) == etag:
                    continue
                self._sequence += 1
                event = object_created_event(self.settings.files_bucket, key, etag, int(obj["Size"]),
                                             self.settings.region, f"{self._sequence:016X}")
                for attempt in range(MAX_RETRY_ATTEMPTS + 1):
                    try:
                        answers.append(self.handler(event, LocalLambdaContext("ingest")))
                        break
                    except Exception as exc:
                        if attempt == MAX_RETRY_ATTEMPTS:
                            logger.error("ingest of s3://%s/%s given up after %d attempts: %r",
                                         self.settings.files_bucket, key, attempt + 1, exc)
                            self.failures.append((event, exc))
                        else:
                            logger.warning("ingest of %s failed (attempt %d): %r", key, attempt + 1, exc)
                self.seen[key] = etag
        return answers

    def start(self) -> FilesTrigger:
        self._thread = threading.Thread(target=self._run, name="files-trigger", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.poll_once()
            except Exception as exc:
                logger.warning("files trigger: listing s3://%s failed: %r", self.settings.files_bucket, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def start_files(settings: Settings) -> FilesTrigger:
    """The files bucket (created if missing) and its running trigger."""
    ensure_bucket(settings)
    return FilesTrigger(settings).start()
