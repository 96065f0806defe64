"""Rows of a bulk usage file, read one line at a time: CSV (a header row, then one record per row) or JSON Lines
(one JSON object per line). Both use the input names of ``recordUsage`` (``idempotencyKey``, ``quantity``, …);
CSV cells are text (empty = absent; ``dimensions`` is a JSON object in a cell), JSON numbers are read as exact
Decimals. A row that cannot be read (bad JSON, unknown field, too many cells, not UTF-8) becomes a ``Row`` with
errors instead of an input; nothing here raises on bad data.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core.errors import ErrorCode, ErrorDetail
from core.usage_validation import INPUT_NAMES, UsageInput
from core.values import immutable

FIELD_OF_NAME = {name: field for field, name in INPUT_NAMES.items()}


class FileFormat(StrEnum):
    CSV = "csv"
    JSON_LINES = "jsonl"

    @classmethod
    def of(cls, name: str) -> FileFormat | None:
        """The format of an object or file name (``.csv``, ``.jsonl`` / ``.ndjson``, optionally ``.gz``)."""
        lower = name.lower().removesuffix(".gz")
        if lower.endswith(".csv"):
            return cls.CSV
        if lower.endswith((".jsonl", ".ndjson")):
            return cls.JSON_LINES
        return None


@immutable
class Row:
    """One record of a file: its (first) line number, and either the input or why it could not be read."""

    line: int
    input: UsageInput | None
    errors: tuple[ErrorDetail, ...] = ()
    idempotency_key: str = ""


def text_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Decode a byte stream's lines (a leading BOM dropped); an undecodable byte becomes U+FFFD, which the row
    reader reports."""
    first = True
    for raw in chunks:
        line = raw.decode("utf-8", errors="replace")
        if first:
            line = line.removeprefix("\ufeff")
            first = False
        yield line


def read_rows(lines: Iterable[str], file_format: FileFormat) -> Iterator[Row]:
    return _csv_rows(lines) if file_format == FileFormat.CSV else _json_rows(lines)


def _input(values: dict[str, Any], line: int) -> Row:
    key = values.get("idempotencyKey")
    key_text = key.strip() if isinstance(key, str) else ""
    errors = [ErrorDetail(ErrorCode.INVALID_VALUE, f"'{name}' is not a usage record field (fields: "
                          f"{', '.join(INPUT_NAMES.values())})", name)
              for name in values if name not in FIELD_OF_NAME]
    if any("\ufffd" in v for v in values.values() if isinstance(v, str)):
        errors.append(ErrorDetail(ErrorCode.INVALID_VALUE, "the line is not valid UTF-8"))
    if errors:
        return Row(line, None, tuple(errors), key_text)
    return Row(line, UsageInput(**{FIELD_OF_NAME[name]: value for name, value in values.items()}),
               idempotency_key=key_text)


def _csv_rows(lines: Iterable[str]) -> Iterator[Row]:
    reader = csv.reader(iter(lines))
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Row(start, None, (ErrorDetail(ErrorCode.INVALID_VALUE, f"the row is not valid CSV: {exc}"),))
            continue
        if not cells or all(not c.strip() for c in cells):
            continue
        if header is None:
            header = [c.strip() for c in cells]
            continue
        if len(cells) > len(header):
            yield Row(start, None, (ErrorDetail(ErrorCode.INVALID_VALUE, f"the row has {len(cells)} cells but the "
                                                f"header names {len(header)} columns"),))
            continue
        values: dict[str, Any] = {name: cell for name, cell in zip(header, cells, strict=False)
                                  if name and cell.strip()}
        dimensions = values.get("dimensions")
        if dimensions is not None:
            try:
                values["dimensions"] = json.loads(dimensions, parse_float=Decimal)
            except ValueError:
                yield Row(start, None, (ErrorDetail(ErrorCode.INVALID_VALUE, "dimensions is not a JSON object",
                                                    "dimensions"),), str(values.get("idempotencyKey", "")).strip())
                continue
        yield _input(values, start)


def _json_rows(lines: Iterable[str]) -> Iterator[Row]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            values = json.loads(line, parse_float=Decimal)
        except ValueError:
            yield Row(number, None, (ErrorDetail(ErrorCode.INVALID_VALUE, "the line is not valid JSON"),))
            continue
        if not isinstance(values, dict):
            yield Row(number, None, (ErrorDetail(ErrorCode.INVALID_VALUE, "the line is not a JSON object"),))
            continue
        yield _input(values, number)
