"""One typed reader for every run-folder record: a dataclass built from parsed JSON/CSV by its fields.

    rec = record(ProbeRecord, json.loads(text))   # each value coerced by its field's annotation

The readers declare a frozen dataclass per file and call `record`; none of them spells out its keys
again. Coercion follows the annotation: `float | None` / `int | None` take numbers or numeric text
("" and NaN are no value), `bool` takes CSV's "1"/"true", `tuple[X, ...]`, `dict[str, X]` and nested
dataclasses recurse. A key the file lacks gets the field's default; a value that does not fit raises
TypeError/ValueError, which `layout._typed` turns into one line naming the file.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")

_NONE = type(None)
_TRUE = ("1", "true", "True")


def opt_float(v: Any) -> float | None:
    if v is None or v == "" or isinstance(v, bool):
        return None
    f = float(v)
    return None if f != f else f  # NaN: no value


def opt_int(v: Any) -> int | None:
    f = opt_float(v)
    return None if f is None else int(f)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _default(f: dataclasses.Field, tp: Any) -> Any:
    """An absent or null value: the field's default; None for `X | None`; else a schema error."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    if _optional(tp) is not None:
        return None
    raise TypeError(f"{f.name} is missing")


def _optional(tp: Any) -> Any | None:
    """X for `X | None` (or Optional[X]); None for any other annotation."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not _NONE]
        if len(args) < len(typing.get_args(tp)):
            return args[0] if len(args) == 1 else Any  # X | Y | None: kept as parsed
    return None


def coerce(tp: Any, v: Any) -> Any:
    """`v` (as parsed) as a value of annotation `tp`."""
    inner = _optional(tp)
    if inner is not None:
        if inner is float:
            return opt_float(v)
        if inner is int:
            return opt_int(v)
        return None if v is None else coerce(inner, v)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return v
    if dataclasses.is_dataclass(tp):
        return v if isinstance(v, tp) else record(tp, v)
    if origin in (tuple, list):
        if not isinstance(v, list | tuple):
            raise TypeError(f"expected a list, got {type(v).__name__}")
        items = tuple(coerce(args[0] if args else Any, x) for x in v)
        return items if origin is tuple else list(items)
    if origin is dict:
        if not isinstance(v, dict):
            raise TypeError(f"expected a mapping, got {type(v).__name__}")
        return {str(k): coerce(args[1] if args else Any, x) for k, x in v.items()}
    if tp is bool:
        return v.strip() in _TRUE if isinstance(v, str) else bool(v)
    if tp in (int, float, str):
        return tp(v)
    return v


def record(cls: type[T], d: Any, **given: Any) -> T:
    """Dataclass `cls` from mapping `d`: unknown keys ignored, absent or null ones get the default;
    `given` fields are taken as they are (what the file stores in another shape)."""
    if not isinstance(d, dict):
        raise TypeError(f"expected a mapping for {cls.__name__}, got {type(d).__name__}")
    hints, kw = _hints(cls), {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init:
            continue
        tp, v = hints[f.name], d.get(f.name)
        if f.name in given:
            kw[f.name] = given[f.name]
        else:
            kw[f.name] = _default(f, tp) if v is None else coerce(tp, v)
    return cls(**kw)


__all__ = ["coerce", "opt_float", "opt_int", "record"]
