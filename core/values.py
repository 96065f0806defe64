"""`@immutable`: the project's value types are plain frozen, slotted dataclasses.

`immutable` is `dataclasses.dataclass(frozen=True, slots=True)` under one short name (a value type reads as such,
and a change of policy is one line). Everything dataclasses offer works as documented: `replace()`, `asdict()`,
`fields()`, equality and hashing by value, pickling, `__post_init__`, `__match_args__`. Being slotted, instances
have no `__dict__` (use `dataclasses.replace` or `asdict`, not `vars()`) and cannot take attributes beyond their
fields.
"""

from __future__ import annotations

from dataclasses import Field, dataclass, field
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True, field_specifiers=(field, Field))
def immutable(cls: type[T]) -> type[T]:
    """A frozen, slotted dataclass of ``cls`` (a new class, as ``slots=True`` always makes)."""
    return dataclass(frozen=True, slots=True)(cls)
