"""`@immutable`: what `@dataclass(frozen=True)` makes, for a fraction of the cost of making it.

On Python 3.11 `dataclass(frozen=True)` compiles six small functions per class, each from source text (`__init__`,
`__repr__`, `__eq__`, `__hash__`, `__setattr__`, `__delattr__`), and checks every field's annotation with module
lookups and regular expressions: about a millisecond a class, and a stream handler imports some eighty of these value
types on every cold start. `immutable` records the fields exactly as `dataclasses` does (so `fields()`, `replace()`,
`asdict()`, `is_dataclass()` and dataclass subclasses work as ever), compiles `__init__` alone, when the class is
first instantiated — it must take the fields as named parameters and runs for every instance, so it stays as fast as
the dataclass one — and makes the other five from closures over the field names. Instances behave as frozen
dataclass instances: immutable (`FrozenInstanceError`), equal by value to instances of the same class, hashable,
with the same repr, the same `__init__` parameters (defaults, `default_factory`, `init=False` fields) and
`__post_init__`.

As with dataclasses, an `__init__`, `__repr__`, `__eq__` or `__hash__` the class writes itself is kept; one that
writes `__setattr__` or `__delattr__`, a mutable default, and a field without a default after one with a default are
refused. Refused too (at class creation): `InitVar` and keyword-only fields, and a non-frozen dataclass as base.
"""

from __future__ import annotations

import dataclasses
import operator
import sys
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

T = TypeVar("T")

_GENERATED = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__")
_FACTORY = dataclasses._HAS_DEFAULT_FACTORY  # type: ignore[attr-defined]  # the sentinel dataclasses uses


def _immutable(cls: type[T]) -> type[T]:
    for name in ("__setattr__", "__delattr__"):
        if name in cls.__dict__:
            raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__qualname__}")
    # as dataclasses does: a method the class writes itself is kept (an __eq__ without __hash__ still gets one)
    kept = {name for name in ("__init__", "__repr__", "__eq__") if name in cls.__dict__}
    if "__hash__" in cls.__dict__ and not (cls.__dict__["__hash__"] is None and "__eq__" in cls.__dict__):
        kept.add("__hash__")
    for base in cls.__mro__[1:]:
        params = base.__dict__.get("__dataclass_params__")
        if params is not None and not params.frozen:
            raise TypeError(f"@immutable {cls.__qualname__}: a non-frozen base dataclass, {base.__name__}")
    fields = _fields(cls)
    if any(f.name.startswith("_rec_") for f in fields):
        raise TypeError(f"@immutable {cls.__qualname__}: field names may not start with _rec_")
    methods = _methods(cls, fields)
    for name, method in zip(_GENERATED, methods, strict=True):
        if name in kept:
            continue
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    if not cls.__dict__.get("__doc__"):
        cls.__doc__ = cls.__name__ + "(" + ", ".join(f.name for f in fields if f.init) + ")"
    return cls


def _fields(cls: type) -> list[dataclasses.Field[Any]]:
    """What `dataclasses` records of a class's fields (`__dataclass_fields__`, `__dataclass_params__`,
    `__match_args__`, defaults left on the class), found with string checks rather than its per-field module
    lookups and regular expressions: the value types here annotate plainly (`from __future__ import annotations`)."""
    found: dict[str, dataclasses.Field[Any]] = {}
    for base in reversed(cls.__mro__[1:]):
        found.update(base.__dict__.get("__dataclass_fields__", {}))
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        default = cls.__dict__.get(name, dataclasses.MISSING)
        f = default if isinstance(default, dataclasses.Field) else dataclasses.field(default=default)
        f.name, f.type = name, annotation
        kind = _annotation_kind(annotation)
        if kind in ("InitVar", "KW_ONLY") or f.kw_only is True:
            raise TypeError(f"@immutable {cls.__qualname__}: InitVar and keyword-only fields are not supported")
        if f.kw_only is dataclasses.MISSING:
            f.kw_only = False
        if kind == "ClassVar":
            if f.default_factory is not dataclasses.MISSING:
                raise TypeError(f"field {name} cannot have a default factory")
            f._field_type = dataclasses._FIELD_CLASSVAR  # type: ignore[attr-defined,union-attr]
        else:
            f._field_type = dataclasses._FIELD  # type: ignore[attr-defined,union-attr]
            if f.default is not dataclasses.MISSING and f.default.__class__.__hash__ is None:
                raise ValueError(f"mutable default {type(f.default)} for field {name} is not allowed: "
                                 "use default_factory")
        found[name] = f
        if isinstance(default, dataclasses.Field):
            if f.default is dataclasses.MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
    fields = [f for f in found.values() if f._field_type is dataclasses._FIELD]  # type: ignore[attr-defined]
    defaulted = False
    for f in fields:
        if not f.init:
            continue
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            if defaulted:
                raise TypeError(f"non-default argument {f.name!r} follows default argument")
        else:
            defaulted = True
    type.__setattr__(cls, "__dataclass_fields__", found)
    type.__setattr__(cls, "__dataclass_params__", dataclasses._DataclassParams(  # type: ignore[attr-defined]
        init=True, repr=True, eq=True, order=False, unsafe_hash=False, frozen=True))
    if "__match_args__" not in cls.__dict__:
        type.__setattr__(cls, "__match_args__", tuple(f.name for f in fields if f.init))
    return fields


def _annotation_kind(annotation: Any) -> str | None:
    """"ClassVar", "InitVar" or "KW_ONLY" when the annotation is one of those (as text or as the object)."""
    if isinstance(annotation, str):
        head = annotation.split("[", 1)[0].strip().rsplit(".", 1)[-1]
    else:
        head = getattr(typing.get_origin(annotation) or annotation, "_name", None) or type(annotation).__name__
        if annotation is dataclasses.KW_ONLY:
            head = "KW_ONLY"
    return head if head in ("ClassVar", "InitVar", "KW_ONLY") else None


def _methods(cls: type, fields: list[dataclasses.Field[Any]]) -> tuple[Callable[..., Any], ...]:
    """`__init__` compiled (it must take the fields as named parameters, and runs on every instance); the other
    five are closures over the field names, which need no compiling."""
    compared = tuple(f.name for f in fields if f.compare)
    hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
    shown = tuple(f.name for f in fields if f.repr)
    names = frozenset(f.name for f in fields)
    eq_key, hash_key = _getter(compared), _getter(hashed)
    frozen = dataclasses.FrozenInstanceError

    def __repr__(self: Any) -> str:
        return f"{self.__class__.__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in shown)})"

    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return eq_key(self) == eq_key(other)
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(hash_key(self))

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise frozen(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)  # type: ignore[arg-type]

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise frozen(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)  # type: ignore[arg-type]

    init = cls.__dict__["__init__"] if "__init__" in cls.__dict__ else _compiled_on_first_use(cls, fields)
    return init, __repr__, __eq__, __hash__, __setattr__, __delattr__


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        single = operator.attrgetter(names[0])
        return lambda obj: (single(obj),)
    return operator.attrgetter(*names)  # type: ignore[return-value]  # a tuple for two names or more


def _compiled_on_first_use(cls: type, fields: list[dataclasses.Field[Any]]) -> Callable[..., None]:
    """A stand-in `__init__` that compiles the real one when the class is first instantiated and puts it in its
    place: a value type a process never makes costs no compiling (a cold start instantiates a fraction of them)."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        real = _init(cls, fields)
        real.__qualname__ = f"{cls.__qualname__}.__init__"
        type.__setattr__(cls, "__init__", real)
        real(self, *args, **kwargs)

    return __init__


def _init(cls: type, fields: list[dataclasses.Field[Any]]) -> Callable[..., None]:
    names: dict[str, Any] = {"_rec_factory": _FACTORY, "_rec_set": object.__setattr__}
    params, body = ["self"], []
    for f in fields:
        has_factory = f.default_factory is not dataclasses.MISSING
        if has_factory:
            names[f"_rec_factory_{f.name}"] = f.default_factory
        elif f.default is not dataclasses.MISSING:
            names[f"_rec_default_{f.name}"] = f.default
        if f.init:
            if has_factory:
                params.append(f"{f.name}=_rec_factory")
                body.append(f"  _rec_set(self, {f.name!r}, "
                            f"_rec_factory_{f.name}() if {f.name} is _rec_factory else {f.name})")
            else:
                params.append(f.name if f.default is dataclasses.MISSING else f"{f.name}=_rec_default_{f.name}")
                body.append(f"  _rec_set(self, {f.name!r}, {f.name})")
        elif has_factory:
            body.append(f"  _rec_set(self, {f.name!r}, _rec_factory_{f.name}())")
        elif f.default is not dataclasses.MISSING:
            body.append(f"  _rec_set(self, {f.name!r}, _rec_default_{f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("  self.__post_init__()")
    source = "\n".join([f"def __create__({', '.join(names)}):",
                        f" def __init__({', '.join(params)}):", *(body or ["  pass"]), " return __init__"])
    namespace: dict[str, Any] = {}
    module = sys.modules.get(cls.__module__)
    exec(compile(source, f"<immutable {cls.__qualname__}>", "exec"),  # noqa: S102 - our own generated source
         module.__dict__ if module else {}, namespace)
    return namespace["__create__"](**names)  # type: ignore[no-any-return]


if TYPE_CHECKING:
    from typing_extensions import dataclass_transform

    @dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
    def immutable(cls: type[T]) -> type[T]: ...
else:
    immutable = _immutable
