"""Opaque global ids: base64url of ``Kind:key``, where the key alone locates the record in the tenant's store."""

from __future__ import annotations

import base64
import binascii

import strawberry


def to_global_id(kind: str, key: str) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("="))


def from_global_id(value: str, expected_kind: str | None = None) -> tuple[str, str] | None:
    """(kind, key) of an id, or None when it is not one of ours (or not of the expected kind)."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    kind, sep, key = raw.partition(":")
    if not sep or not key or (expected_kind and kind != expected_kind):
        return None
    return kind, key
