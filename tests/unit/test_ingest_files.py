"""Bulk files without storage: reading CSV and JSON Lines rows (line numbers, unreadable rows) and the batching,
ordering and rerun rules of the report (functions/ingest)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from core.ingestion import Ingestion
from core.usage import UsageRecord
from core.usage_validation import UsageInput
from functions.ingest.bulk import ingest_lines
from functions.ingest.rows import FileFormat, read_rows, text_lines
from tests.unit.test_ingestion import FixedCatalog, MemoryStore
from tests.unit.test_usage_validation import NOW

HEADER = "idempotencyKey,accountExternalId,resourceCode,quantity,startTime,dimensions\n"


def lines(text: str | bytes) -> list[bytes]:
    data = text.encode() if isinstance(text, str) else text
    return io.BytesIO(data).readlines()


def test_csv_rows_keep_their_line_numbers_and_cells() -> None:
    # GIVEN a CSV with a BOM, a blank line, a quoted cell over two lines and a JSON dimensions cell
    text = ("\ufeff" + HEADER + "a,acme,DATA,1.5,2026-07-01T00:00:00Z,\n\n"
            'b,"multi\nline",DATA,2,2026-07-01T00:00:00Z,"{""cpu"": 0.5}"\n'
            "c,acme,DATA,3,2026-07-01T00:00:00Z,,extra\n")
    rows = list(read_rows(text_lines(lines(text)), FileFormat.CSV))
    # THEN each row starts at its line; empty cells are absent; JSON decimals are exact; extra cells are refused
    assert [r.line for r in rows] == [2, 4, 6]
    assert rows[0].input == UsageInput(idempotency_key="a", account_external_id="acme", resource_code="DATA",
                                       quantity="1.5", start_time="2026-07-01T00:00:00Z")
    assert rows[1].input is not None and rows[1].input.account_external_id == "multi\nline"
    assert rows[1].input.dimensions == {"cpu": Decimal("0.5")}
    assert rows[2].input is None and rows[2].errors[0].code == "INVALID_VALUE"


def test_unreadable_rows_are_answered_not_raised() -> None:
    bad_utf8 = HEADER.encode() + b"a,acme,DATA,1,2026-07-01T00:00:00Z,\n" + b"b,ac\xffme,DATA,1,2026-07-01T00:00:00Z,\n"
    rows = list(read_rows(text_lines(lines(bad_utf8)), FileFormat.CSV))
    assert rows[0].input is not None and rows[1].input is None and "UTF-8" in rows[1].errors[0].message
    unknown = list(read_rows(text_lines(lines("idempotencyKey,quantiy\na,1\n")), FileFormat.CSV))
    assert unknown[0].input is None and unknown[0].errors[0].field == "quantiy"
    json_rows = list(read_rows(text_lines(lines('{"idempotencyKey": "a", "quantity": 1.10}\n\n[1]\n{oops\n')),
                               FileFormat.JSON_LINES))
    assert [r.line for r in json_rows] == [1, 3, 4]
    assert json_rows[0].input is not None and json_rows[0].input.quantity == Decimal("1.10")
    assert [r.input for r in json_rows[1:]] == [None, None]


def test_file_formats_follow_the_name() -> None:
    assert [FileFormat.of(n) for n in ("a.csv", "A.CSV.gz", "b.jsonl", "c.ndjson.gz", "d.json", "e.txt")] == [
        FileFormat.CSV, FileFormat.CSV, FileFormat.JSON_LINES, FileFormat.JSON_LINES, None, None]


class CountingIngestion(Ingestion):
    def __init__(self, store: MemoryStore):
        super().__init__("acme-tenant", store, FixedCatalog(), clock=lambda: NOW)
        self.batches: list[int] = []

    def record(self, inputs: Sequence[UsageInput], sources: Sequence[str | None] | None = None) -> list:  # type: ignore[override]
        self.batches.append(len(inputs))
        return super().record(inputs, sources)


def report_rows(out: io.StringIO) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_rows_go_in_bounded_batches_and_the_report_keeps_file_order() -> None:
    store = MemoryStore()
    ingestion = CountingIngestion(store)
    unreadable = "one,cell,too,many,for,the,header\n"
    body = HEADER + "".join(f"k{i},acme,DATA,1,2026-07-01T00:00:00Z,\n" if i % 3 else unreadable for i in range(25))
    out = io.StringIO()
    # WHEN it is ingested in batches of 10 rows
    totals = ingest_lines(lines(body), FileFormat.CSV, ingestion, "file://x", out, batch_size=10)
    # THEN no batch holds more than 10 rows, every row is answered once, in order
    assert max(ingestion.batches) <= 10 and sum(ingestion.batches) == totals.accepted == 16
    report = report_rows(out)
    assert [int(r["line"]) for r in report] == list(range(2, 27))
    assert (totals.rows, totals.rejected) == (25, 9)


def test_a_rerun_reports_its_own_rows_accepted_and_real_repeats_duplicate() -> None:
    store = MemoryStore()
    body = HEADER + "a,acme,DATA,1,2026-07-01T00:00:00Z,\na,acme,DATA,2,2026-07-01T00:00:00Z,\n"
    first, second, other = io.StringIO(), io.StringIO(), io.StringIO()
    ingest_lines(lines(body), FileFormat.CSV, CountingIngestion(store), "s3://b/k@e1", first)
    # WHEN the same file runs again, and then a different file carries the same key
    ingest_lines(lines(body), FileFormat.CSV, CountingIngestion(store), "s3://b/k@e1", second)
    ingest_lines(lines(body), FileFormat.CSV, CountingIngestion(store), "s3://b/k@e2", other)
    # THEN the rerun's report is the first one; the other file's rows are DUPLICATEs
    assert second.getvalue() == first.getvalue()
    assert [r["outcome"] for r in report_rows(first)] == ["ACCEPTED", "DUPLICATE"]
    assert [r["outcome"] for r in report_rows(other)] == ["DUPLICATE", "DUPLICATE"]
    stored: UsageRecord = next(iter(store.items.values()))
    assert stored.source == "s3://b/k@e1#L2" and replace(stored, source=None).quantity == Decimal(1)


def test_hostile_values_in_a_file_reject_their_row_only() -> None:
    # GIVEN a JSON Lines file with good rows around 1e309, 1E+999999999, 45 digits (as numbers and strings), a
    # lone surrogate sent as the JSON escape "\ud800", and a start time that underflows on conversion to UTC
    def row(key: str, quantity: str = '"1"', start: str = "2026-07-01T00:00:00Z") -> str:
        return (f'{{"idempotencyKey": "{key}", "accountExternalId": "acme", "resourceCode": "DATA", '
                f'"quantity": {quantity}, "startTime": "{start}"}}\n')

    body = (row("good-1") + row("json-number", "1e309") + row("overflow", '"1E+999999999"')
            + row("digits", "1" * 45) + row("\\ud800") + row("early", start="0001-01-01T00:00:00+01:00")
            + row("good-2"))
    store, out = MemoryStore(), io.StringIO()
    # WHEN it is ingested
    totals = ingest_lines(lines(body), FileFormat.JSON_LINES, CountingIngestion(store), "s3://b/k@e1", out)
    # THEN only the hostile rows are rejected, each with INVALID_VALUE on its field, and the report is UTF-8 text
    report = report_rows(out)
    assert [(r["outcome"], r["errorCodes"]) for r in report] == [
        ("ACCEPTED", ""), ("REJECTED", "INVALID_VALUE"), ("REJECTED", "INVALID_VALUE"), ("REJECTED", "INVALID_VALUE"),
        ("REJECTED", "INVALID_VALUE"), ("REJECTED", "INVALID_VALUE"), ("ACCEPTED", "")]
    assert (totals.accepted, totals.rejected) == (2, 5)
    out.getvalue().encode("utf-8")
    assert len(store.items) == 2
