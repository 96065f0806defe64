"""Reference rules (DOMAIN §1.2): every record of a product's chain points at records that exist and can serve.

A DRAFT record may point at a DRAFT record (activation turns the whole chain ACTIVE together); nothing may point
at an INACTIVE record, and an ACTIVE record may not point at a DRAFT one (runtime would not see it).
"""

from __future__ import annotations

from collections.abc import Iterator

from core.catalog import RecordStatus
from core.errors import ErrorCode
from core.validation.findings import Finding, error, missing_ref
from core.validation.snapshot import ProductSnapshot, references

RULE = "INACTIVE_REFERENCE"


def inactive_references(s: ProductSnapshot) -> Iterator[Finding]:
    """Error: a record of the chain points at a missing or INACTIVE record, or (being ACTIVE) at a DRAFT one."""
    for record in s.chain():
        status = getattr(record, "status", RecordStatus.DRAFT)
        if status == RecordStatus.INACTIVE:
            continue
        for key in references(record):
            target = s.lookup(key)
            kind, code = key
            if target is None:
                yield error(RULE, "MISSING_REFERENCE", f"{kind.__name__} '{code}' does not exist", record,
                            missing_ref(key))
            elif target.status == RecordStatus.INACTIVE:
                yield error(RULE, ErrorCode.INACTIVE_REFERENCE,
                            f"{kind.__name__} '{code}' is INACTIVE; reactivate it or point elsewhere", record, target)
            elif target.status == RecordStatus.DRAFT and status == RecordStatus.ACTIVE:
                yield error(RULE, ErrorCode.INACTIVE_REFERENCE,
                            f"an ACTIVE record points at DRAFT {kind.__name__} '{code}'; activate it", record, target)


RULES = (inactive_references,)
