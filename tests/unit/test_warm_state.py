"""The warm state's policy (``infra.warm_state``): subscriptions are used only while fresh and at the version
they were read at; counters and summaries until forgotten."""

from __future__ import annotations

from infra.warm_state import WarmState


def test_remembered_subscriptions_are_used_only_at_the_version_they_were_read_at() -> None:
    # GIVEN subscriptions of two accounts remembered at versions 3 and (no account) None
    warm = WarmState()
    warm.keep_subscriptions("t", {"acme": (), "ghost": None}, {"acme": 3, "ghost": None})
    # WHEN the accounts' versions are unchanged THEN both are used
    assert warm.subscriptions("t", {"acme": 3, "ghost": None}) == {"acme": (), "ghost": None}
    # WHEN a subscription of acme was written (its version moved) or ghost was created THEN neither is used
    assert warm.subscriptions("t", {"acme": 4, "ghost": 1}) == {}
    # AND another tenant's accounts are never mixed in
    assert warm.subscriptions("u", {"acme": 3}) == {}


def test_remembered_subscriptions_expire_only_after_their_own_ttl() -> None:
    # GIVEN a warm state whose catalog entries expire at once
    warm = WarmState(ttl_s=0.0)
    warm.keep_subscriptions("t", {"acme": ()}, {"acme": 1})
    warm.keep_catalog("t", set(), set(), object())  # type: ignore[arg-type]
    # THEN the catalog is not used, but subscriptions at an unchanged version still are (the version is the check)
    assert warm.catalog("t", set(), set()) is None
    assert warm.subscriptions("t", {"acme": 1}) == {"acme": ()}
    # WHEN subscriptions expire at once too THEN nothing remembered is used, even at the same version
    warm = WarmState(subscriptions_ttl_s=0.0)
    warm.keep_subscriptions("t", {"acme": ()}, {"acme": 1})
    assert warm.subscriptions("t", {"acme": 1}) == {}


def test_counters_and_summaries_are_kept_until_forgotten() -> None:
    # GIVEN a counter and a summary remembered
    warm = WarmState()
    summary = object()
    warm.remember("t", counters={"w": {}}, summaries={("acme", "s"): summary})  # type: ignore[dict-item]
    assert warm.known_counters("t", ["w", "x"]) == {"w": {}}
    assert warm.known_summaries("t", [("acme", "s"), ("acme", "z")]) == {("acme", "s"): summary}
    # WHEN a transaction that wrote them failed THEN they are forgotten (read again next time)
    warm.forget("t", ["w"], [("acme", "s")])
    assert warm.known_counters("t", ["w"]) == {} and warm.known_summaries("t", [("acme", "s")]) == {}


def test_everything_is_dropped_past_max_entries() -> None:
    warm = WarmState(max_entries=2)
    warm.remember("t", counters={"a": {}, "b": {}, "c": {}})
    warm.keep_subscriptions("t", {"acme": ()}, {"acme": 1})  # over the limit: cleared first, then kept
    assert warm.known_counters("t", ["a", "b", "c"]) == {}
    assert warm.subscriptions("t", {"acme": 1}) == {"acme": ()}


