"""Lambda's FilterCriteria for event source mappings: event patterns (exact values, ``exists``, ``anything-but``,
``prefix``) matched against a record as Lambda matches them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

_MISSING = object()


def compile_patterns(patterns: Sequence[Mapping[str, Any] | str] | None) -> list[Mapping[str, Any]]:
    """FilterCriteria patterns, as dicts or as the JSON strings of a template's `Pattern`; checked up front."""
    compiled = [json.loads(p) if isinstance(p, str) else p for p in patterns or ()]
    for pattern in compiled:
        _check_pattern(pattern)
    return compiled


def matches_any(patterns: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """Lambda's filter: no patterns let everything through; otherwise a record must match one of them."""
    return not patterns or any(matches(pattern, record) for pattern in patterns)


def matches(pattern: Mapping[str, Any], value: Any) -> bool:
    """One event pattern against one record: every key must match; lists hold alternatives."""
    node = value if isinstance(value, Mapping) else {}
    for key, expected in pattern.items():
        actual = node.get(key, _MISSING)
        if isinstance(expected, Mapping):
            if not matches(expected, actual):
                return False
        elif not any(_matches_rule(rule, actual) for rule in expected):
            return False
    return True


def _matches_rule(rule: Any, actual: Any) -> bool:
    if isinstance(rule, Mapping):
        (operator, operand), *_ = rule.items()
        if operator == "exists":
            return (actual is not _MISSING) is bool(operand)
        if actual is _MISSING:
            return False
        if operator == "anything-but":
            excluded = operand if isinstance(operand, list) else [operand]
            return not any(_equals(item, actual) for item in excluded)
        return isinstance(actual, str) and actual.startswith(operand)  # prefix
    if isinstance(actual, list):
        return any(_equals(rule, item) for item in actual)
    return actual is not _MISSING and _equals(rule, actual)


def _equals(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    return type(expected) is type(actual) and expected == actual


def _check_pattern(pattern: Any) -> None:
    if not isinstance(pattern, Mapping):
        raise ValueError(f"a filter pattern must be an object, not {pattern!r}")
    for key, expected in pattern.items():
        if isinstance(expected, Mapping):
            _check_pattern(expected)
        elif not isinstance(expected, list) or not expected:
            raise ValueError(f"filter pattern {key!r}: values must be a non-empty list, not {expected!r}")
        else:
            for rule in expected:
                if isinstance(rule, Mapping) and (len(rule) != 1 or next(iter(rule)) not in _OPERATORS):
                    raise ValueError(f"filter pattern {key!r}: unsupported rule {rule!r}")


_OPERATORS = frozenset({"exists", "anything-but", "prefix"})
