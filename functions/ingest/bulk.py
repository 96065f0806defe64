"""Ingesting a bulk usage file: the code the S3-triggered function and the local command share.

The file is read line by line (``rows.read_rows``) and sent through ``core.ingestion.Ingestion.record`` — the
validation and the write path of ``recordUsage`` — in batches of 1,000 rows; at no time does more than one batch
sit in memory. Every row gets one line in the report, in file order::

    line,idempotencyKey,outcome,recordId,errorCodes,errors
    2,u-1,ACCEPTED,3f1c…,,
    3,u-2,REJECTED,,NEGATIVE_QUANTITY,quantity: quantity must not be negative (got -1)

Running a file twice changes nothing: each record is tagged with its source (``{file}#L{line}``), so a row whose
record was written by an earlier run over the same file (a redelivered S3 event, a run cut short) is reported
ACCEPTED again, not DUPLICATE — the report comes out the same. A row repeating a key of another row, another
file or the API is a DUPLICATE.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from core.ingestion import MAX_RECORDS, Ingestion, IngestResult
from core.usage import IngestOutcome
from functions.ingest.rows import FileFormat, Row, read_rows, text_lines

REPORT_HEADER = ("line", "idempotencyKey", "outcome", "recordId", "errorCodes", "errors")


@dataclass
class Totals:
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0

    def add(self, outcome: IngestOutcome) -> None:
        self.rows += 1
        if outcome == IngestOutcome.ACCEPTED:
            self.accepted += 1
        elif outcome == IngestOutcome.DUPLICATE:
            self.duplicates += 1
        else:
            self.rejected += 1

    def as_dict(self) -> dict[str, int]:
        return {"rows": self.rows, "accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": self.rejected}


def byte_lines(stream: IO[bytes] | Any, compressed: bool = False) -> Iterator[bytes]:
    """The lines of a binary stream (an open file, an S3 ``StreamingBody``), read through a 64 KiB buffer."""
    raw: Any = gzip.GzipFile(fileobj=stream, mode="rb") if compressed else stream
    buffered = raw if isinstance(raw, (io.BufferedReader, gzip.GzipFile)) else io.BufferedReader(raw, 64 * 1024)
    yield from buffered


def ingest_lines(lines: Iterable[bytes], file_format: FileFormat, ingestion: Ingestion, source: str,
                 report: IO[str], batch_size: int = MAX_RECORDS,
                 on_batch: Callable[[int], None] | None = None) -> Totals:
    """Ingest every row of ``lines``; write one report line per row to ``report``; return the totals.

    ``source`` names the file (``s3://bucket/key@etag``); ``on_batch(rows)`` is called after each batch.
    """
    writer = csv.writer(report, lineterminator="\n")
    writer.writerow(REPORT_HEADER)
    totals = Totals()
    pending: list[Row] = []  # at most one batch of rows, readable or not, is held at a time
    for row in read_rows(text_lines(lines), file_format):
        pending.append(row)
        if len(pending) == batch_size:
            _flush(pending, ingestion, source, writer, totals, on_batch)
            pending = []
    if pending:
        _flush(pending, ingestion, source, writer, totals, on_batch)
    return totals


def _flush(rows: list[Row], ingestion: Ingestion, source: str, writer: Any, totals: Totals,
           on_batch: Callable[[int], None] | None) -> None:
    ready = [row for row in rows if row.input is not None]
    sources = [f"{source}#L{row.line}" for row in ready]
    results = iter(ingestion.record([row.input for row in ready if row.input is not None], sources)
                   if ready else [])
    by_source = dict(zip(sources, results, strict=True))
    for row in rows:
        if row.input is None:
            totals.add(IngestOutcome.REJECTED)
            writer.writerow(_line(row.line, row.idempotency_key, IngestOutcome.REJECTED, None, row.errors))
            continue
        row_source = f"{source}#L{row.line}"
        result = by_source[row_source]
        outcome = _outcome(result, row_source)
        totals.add(outcome)
        writer.writerow(_line(row.line, result.idempotency_key, outcome,
                              result.record.id if result.record else None, result.errors))
    if on_batch is not None:
        on_batch(len(rows))


def _outcome(result: IngestResult, row_source: str) -> IngestOutcome:
    """A DUPLICATE of the record this very row wrote in an earlier run is the row's own record: ACCEPTED."""
    if result.outcome == IngestOutcome.DUPLICATE and result.record is not None and result.record.source == row_source:
        return IngestOutcome.ACCEPTED
    return result.outcome


def _line(line: int, key: str, outcome: IngestOutcome, record_id: str | None, errors: Iterable[Any]) -> list[Any]:
    errors = list(errors)
    return [line, key, outcome.value, record_id or "", ";".join(e.code for e in errors),
            "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors)]
