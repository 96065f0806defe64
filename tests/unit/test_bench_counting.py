"""The benchmark's meter prices writes and reads as on-demand DynamoDB bills them (bench/counting.py)."""

from __future__ import annotations

from bench import counting
from bench.counting import Index, Table, apply_update, item_size, write_units

USAGE = Table(("pk", "sk"), [Index("gsi1", ("gsi1pk", "gsi1sk"), "INCLUDE", frozenset({"resource_code"}))])
ALL = Table(("pk", "sk"), [Index("gsi1", ("gsi1pk", "gsi1sk"), "ALL")])


def test_item_sizes_follow_dynamodbs_rules() -> None:
    assert item_size({"pk": {"S": "abc"}}) == 5
    assert item_size({"n": {"N": "12345"}}) == 1 + 4  # 5 significant digits: 3 bytes + 1
    assert item_size({"b": {"BOOL": True}, "z": {"NULL": True}}) == 4
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + 1 + 1 + 1  # map: 3 + per element 1 + name + value
    assert write_units(1024) == 1 and write_units(1025) == 2 and write_units(0) == 1


def test_updates_are_applied_to_the_shadow_item() -> None:
    before = {"pk": {"S": "p"}, "sk": {"S": "C#1"}, "t": {"N": "5"}, "old": {"S": "x"}}
    after = apply_update(before, {
        "Key": {"pk": {"S": "p"}, "sk": {"S": "C#1"}},
        "UpdateExpression": "SET #t = if_not_exists(#t, :zero) + :delta, #g = :g REMOVE old",
        "ExpressionAttributeNames": {"#t": "t", "#g": "g"},
        "ExpressionAttributeValues": {":zero": {"N": "0"}, ":delta": {"N": "7"}, ":g": {"N": "100"}}})
    assert after == {"pk": {"S": "p"}, "sk": {"S": "C#1"}, "t": {"N": "12"}, "g": {"N": "100"}}


def test_an_update_that_leaves_keys_and_projected_attributes_alone_writes_no_index_entry() -> None:
    item = {"pk": {"S": "p"}, "sk": {"S": "U"}, "gsi1pk": {"S": "a"}, "gsi1sk": {"S": "b"},
            "resource_code": {"S": "TEXTS"}, "status": {"S": "NEW"}}
    rated = {**item, "status": {"S": "PROCESSED"}, "rated": {"S": "x" * 500}}
    assert counting._index_units(USAGE.indexes[0], USAGE, item, rated) == 0
    assert counting._index_units(ALL.indexes[0], ALL, item, rated) == 1
    assert counting._index_units(USAGE.indexes[0], USAGE, None, item) == 1  # the insert
    moved = {**item, "gsi1sk": {"S": "c"}}
    assert counting._index_units(USAGE.indexes[0], USAGE, item, moved) == 2  # a key change: delete and put


def test_a_transactional_write_costs_twice_and_a_put_bills_the_larger_image() -> None:
    counting.reset()
    counting._tables["t-bench"] = USAGE
    big = {"pk": {"S": "p"}, "sk": {"S": "U"}, "body": {"S": "x" * 1500}}
    counting._book_write("t-bench", "Put", {"Item": big}, transactional=True, ok=True)
    assert counting.bill.wcu["t-bench"] == 4
    small = {"pk": {"S": "p"}, "sk": {"S": "U"}}
    counting._book_write("t-bench", "Put", {"Item": small}, transactional=False, ok=True)
    assert counting.bill.wcu["t-bench"] == 4 + 2  # the item it replaced was 2 KB
    assert counting.bill.index_wcu["t-bench"] == 0  # no index keys
