"""The cost of a document is measured with each fragment walked once, so a fragment bomb costs microseconds."""

from __future__ import annotations

import time
from typing import Any

import pytest
from graphql import parse

from graphql_api.limits import Limits, limit_errors, measure

LIMITS = Limits(max_depth=12, max_aliases=30, max_selections=1000)


def fragment_bomb(levels: int) -> str:
    """``fragment F{i} on UsageResource { ...F{i-1} ...F{i-1} }``: 2^levels expanded selections in ~1 KB."""
    fragments = ["fragment F0 on UsageResource { code name }"]
    fragments += [f"fragment F{i} on UsageResource {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    return f'{{ usageResource(code: "X") {{ ...F{levels} }} }}\n' + "\n".join(fragments)


def test_a_fragment_bomb_is_measured_in_linear_time() -> None:
    # GIVEN the 2^29 document of issue 15 (1.4 KB)
    document = parse(fragment_bomb(29))
    # WHEN it is measured
    started = time.process_time()
    shape = measure(document)[None]
    elapsed = time.process_time() - started
    # THEN every expanded selection is counted, without expanding any of them
    assert shape.selections == 1 + 2 * 2**29 and shape.depth == 1
    assert elapsed < 0.05, elapsed


def test_limits_name_what_is_exceeded_with_a_code() -> None:
    too_big = limit_errors(parse(fragment_bomb(22)), LIMITS)
    assert [e.extensions["code"] for e in too_big] == ["QUERY_TOO_COMPLEX"]
    deep = "{ usageResource(code: \"X\") " + "{ tokenResource " * 13 + "{ code }" + " }" * 13 + " }"
    assert [e.extensions["code"] for e in limit_errors(parse(deep), LIMITS)] == ["QUERY_TOO_DEEP"]
    fine = "{ usageResource(code: \"X\") " + "{ tokenResource " * 11 + "{ code }" + " }" * 11 + " }"
    assert limit_errors(parse(fine), LIMITS) == []
    aliases = "{ " + " ".join(f"a{i}: usageResource(code: \"X\") {{ code }}" for i in range(31)) + " }"
    assert [e.extensions["code"] for e in limit_errors(parse(aliases), LIMITS)] == ["TOO_MANY_ALIASES"]


def test_aliases_and_depth_count_through_fragments_and_cycles_end() -> None:
    document = parse("""query Q { usageResource(code: "X") { ...A ...A } }
        fragment A on UsageResource { x: code y: name tokenResource { ...B } }
        fragment B on UsageResource { z: code ...A }""")
    shape = measure(document)["Q"]
    # A: x, y, tokenResource { z, (A again closes a cycle: nothing) } = 4 selections and 3 aliases; spread twice
    assert shape.aliases == 6 and shape.selections == 1 + 2 * 4 and shape.depth == 2


def test_fragments_nested_in_each_other_beyond_the_bound_are_refused() -> None:
    fragments = ["fragment F0 on UsageResource { code }"]
    fragments += [f"fragment F{i} on UsageResource {{ ...F{i - 1} }}" for i in range(1, 400)]
    document = parse('{ usageResource(code: "X") { ...F399 } }\n' + "\n".join(fragments))
    assert [e.extensions["code"] for e in limit_errors(document, LIMITS)] == ["QUERY_TOO_COMPLEX"]


def test_a_document_sent_again_is_parsed_and_validated_once_and_an_invalid_one_every_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from core.auth import Principal, Role
    from graphql_api import limits
    from graphql_api.context import Context
    from graphql_api.schema import schema

    calls = {"parse": 0, "check": 0}

    def counted(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(limits, "parse", counted("parse", limits.parse))
    monkeypatch.setattr(limits, "check", counted("check", limits.check))
    context = Context(principal=Principal("demo", frozenset({Role.VIEWER})))
    kept = f"query Kept{time.time_ns()} {{ __typename }}"  # a document no other test sent
    for _ in range(3):
        result = asyncio.run(schema.execute(kept, context_value=context))
        assert result.errors is None and result.data == {"__typename": "Query"}
    assert calls == {"parse": 1, "check": 1}
    invalid = f"query Bad{time.time_ns()} {{ nope }}"
    for _ in range(2):
        result = asyncio.run(schema.execute(invalid, context_value=context))
        assert result.errors and result.errors[0].extensions["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert calls == {"parse": 2, "check": 3}
    # a document longer than KEPT_DOCUMENT_CHARS is not kept
    long = f"query Long{time.time_ns()} {{ __typename }}" + " " * limits.KEPT_DOCUMENT_CHARS
    for _ in range(2):
        assert asyncio.run(schema.execute(long, context_value=context)).errors is None
    assert calls == {"parse": 4, "check": 5}
