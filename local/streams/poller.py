"""The poller: a thread (or a caller's ``drain``) that passes over a table's stream, reads each ready shard
(``shards``) and hands the batches to the handler (``delivery``); ``drain_all`` for pollers that feed each other."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Literal

from local.streams.delivery import Delivery, Handler, OnFailure
from local.streams.filters import compile_patterns
from local.streams.shards import Shard, ShardReader

logger = logging.getLogger(__name__)

# With no batching window Lambda polls a shard about four times a second ("a base rate of 4 times per second").
LAMBDA_POLL_INTERVAL_S = 0.25


class StreamPoller:
    """Delivers a table's stream records to `handler(event, context)` as a Lambda event source mapping does."""

    def __init__(
        self,
        dynamodb_client: Any,
        streams_client: Any,
        table_name: str,
        handler: Handler,
        *,
        batch_size: int = 100,
        batching_window_s: float = 0.5,
        filter_patterns: Sequence[Mapping[str, Any] | str] | None = None,
        bisect_on_error: bool = True,
        max_retry_attempts: int = 3,
        on_failure: OnFailure | None = None,
        starting_position: Literal["TRIM_HORIZON", "LATEST"] = "TRIM_HORIZON",
        report_batch_item_failures: bool = True,
        function_name: str | None = None,
        region: str = "us-east-1",
    ) -> None:
        if not 1 <= batch_size <= 10_000:
            raise ValueError("batch_size must be 1..10000")
        if max_retry_attempts < 0:
            raise ValueError("max_retry_attempts must be >= 0 (the local poller does not retry forever)")
        if starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise ValueError("starting_position must be TRIM_HORIZON or LATEST")
        self.table_name = table_name
        self.batching_window_s = batching_window_s
        self.function_name = function_name or f"{table_name}-{getattr(handler, '__name__', 'handler')}"
        self.region = region
        self._reader = ShardReader(dynamodb_client, streams_client, table_name, batch_size=batch_size,
                                   patterns=compile_patterns(filter_patterns), starting_position=starting_position,
                                   region=region)
        self._delivery = Delivery(handler, function_name=self.function_name, region=region,
                                  bisect_on_error=bisect_on_error, max_retry_attempts=max_retry_attempts,
                                  on_failure=on_failure, report_batch_item_failures=report_batch_item_failures)
        self._lock = threading.Lock()  # one pass at a time
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._progress = threading.Condition()
        self._passes_started = 0
        self._passes_done = 0
        self._failed_pass = 0
        self._last_error: BaseException | None = None
        self._delivered = 0  # records whose invocations have all ended
        self._delivered_at_drain = 0

    @property
    def stream_arn(self) -> str | None:
        """The stream read (known once the poller started or ran a pass)."""
        return self._reader.stream_arn

    # --- lifecycle ---

    def start(self) -> None:
        """Fix the starting position now, then poll from a daemon thread until `stop()`."""
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            self._reader.open_stream()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"stream-poller-{self.function_name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the batch in hand; records not yet delivered stay in the stream for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(f"{self.function_name}: the poller did not stop within {timeout}s")
            self._thread = None
        with self._progress:
            self._progress.notify_all()

    def __enter__(self) -> StreamPoller:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def drain(self, timeout: float = 30.0) -> int:
        """Return once every record now in the stream has been handed to the handler and every invocation ended.

        With the thread running, wakes it and waits for a whole pass that began after this call; otherwise runs
        that pass here. Raises TimeoutError after `timeout` seconds, and the pass's error if it failed.
        Returns how many records were delivered since the previous drain returned: 0 means the stream was quiet
        (see `drain_all` for pollers whose handlers write to each other's streams).
        """
        if self._thread is None:
            self.run_once()
        else:
            self._wait_for_pass(timeout)
        delivered, self._delivered_at_drain = self._delivered - self._delivered_at_drain, self._delivered
        return delivered

    def _wait_for_pass(self, timeout: float) -> None:
        with self._progress:
            target = self._passes_started + 1
            self._wake.set()
            finished = self._progress.wait_for(
                lambda: self._passes_done >= target or self._stop.is_set(), timeout=timeout
            )
            if not finished:
                raise TimeoutError(f"{self.function_name}: the stream was not drained within {timeout}s")
            if self._passes_done < target:
                raise RuntimeError(f"{self.function_name}: the poller stopped before the stream was drained")
            if self._failed_pass >= target and self._last_error is not None:
                raise RuntimeError(f"{self.function_name}: polling failed") from self._last_error

    def run_once(self) -> int:
        """One pass, here and now: deliver everything in the stream, shard by shard, parents first.

        Returns how many records (after filtering) were handed to the handler for the first time.
        """
        return self._pass(threading.Event())

    def _pass(self, stop: threading.Event) -> int:
        with self._lock:
            self._reader.open_stream()
            self._reader.renew_iterators()
            delivered = 0
            while not stop.is_set():
                self._reader.discover_shards()
                ready = self._reader.ready_shards()
                for shard in ready:
                    delivered += self._consume(shard, stop)
                if not any(shard.finished for shard in ready):
                    break  # nothing closed, so no child shard became ready
            return delivered

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._progress:
                self._passes_started += 1
                number = self._passes_started
            error: BaseException | None = None
            try:
                self._pass(self._stop)
            except Exception as exc:  # the store is down, a shard vanished, on_failure raised: retry next pass
                logger.exception("%s: polling %s failed", self.function_name, self.table_name)
                error = exc
            with self._progress:
                if error is None and self._stop.is_set():
                    break  # an interrupted pass proves nothing
                self._passes_done = number
                if error is not None:
                    self._failed_pass, self._last_error = number, error
                self._progress.notify_all()
            self._wake.wait(self.batching_window_s or LAMBDA_POLL_INTERVAL_S)
            self._wake.clear()

    def _consume(self, shard: Shard, stop: threading.Event) -> int:
        """Deliver a shard's records up to where it is caught up (or closed and finished)."""
        delivered = 0
        while not stop.is_set():
            batch, last_sequence, next_iterator, caught_up = self._reader.read(shard)
            try:
                if batch:
                    self._delivery.deliver(batch)
            except BaseException:
                shard.iterator = None  # read again from the checkpoint next time
                raise
            delivered += len(batch)
            self._delivered += len(batch)
            shard.checkpoint, shard.iterator = last_sequence, next_iterator
            if next_iterator is None:
                shard.finished = True
                return delivered
            if caught_up:
                return delivered
        return delivered


def drain_all(pollers: Sequence[StreamPoller], timeout: float = 30.0, max_rounds: int = 50) -> None:
    """Drain pollers whose handlers write to each other's streams until a whole round delivers nothing."""
    for _ in range(max_rounds):
        if sum([poller.drain(timeout) for poller in pollers]) == 0:
            return
    raise RuntimeError(f"the stream pollers were still busy after {max_rounds} rounds of draining")
