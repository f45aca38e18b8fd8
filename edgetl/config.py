"""Typed config dataclasses from YAML/dicts: unknown keys and wrong types are errors.

    cfg = load_config(TrainConfig, "train/recipes/lp-ft.yaml", overrides={"epochs": 3})

A misspelled key is never silently ignored: the error names the key, the file and the
closest valid key. Every stage's config is a dataclass; `config_to_dict` writes every
default out so a run directory records exactly what ran.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import itertools
import math
import re
import stat
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml

from edgetl.errors import EdgetlError

C = TypeVar("C")


class ConfigError(EdgetlError):
    """A config key or value that does not fit the dataclass."""


MAX_CONFIG_BYTES = 1 << 20  # a recipe is a few hundred bytes; nothing bigger is read
MAX_NESTING = 64  # levels of [ ] / { } brackets
_BRACKETS = re.compile(r"[\[\]{}]")
MAX_YAML_NODES = 100_000  # values after expanding YAML aliases (a "billion laughs" file has 10^9)
EXCERPT_CHARS = 60
# What Python's float() and the CLI accept as a number, which YAML 1.1 reads as a string ("1e-3").
_NUMBER = re.compile(r"[+-]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][+-]?\d+)?")


def excerpt(value: Any, n: int = EXCERPT_CHARS) -> str:
    """`repr(value)` cut to about n characters: a message never echoes a huge value."""
    if isinstance(value, (list, tuple, dict)) and len(value) > 8:
        return f"a {type(value).__name__} of {len(value)} items"
    try:
        text = repr(value)
    except RecursionError:
        return f"a deeply nested {type(value).__name__}"
    return text if len(text) <= n else f"{text[:n]}... ({len(text)} characters)"


def check_finite(cfg: Any, name: Callable[[str], str] | None = None) -> None:
    """Refuse NaN and infinity in any float field of dataclass `cfg` (`nan < 0` is False, so range
    checks let them by); the message names the flag (`name(field)`, else the field's `flag` or --field)."""
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        for x in v if isinstance(v, (list, tuple)) else (v,):
            if isinstance(x, float) and not math.isfinite(x):
                label = name(f.name) if name else f.metadata.get("flag") or "--" + f.name.replace("_", "-")
                raise ConfigError(f"{label} must be a finite number (got {x})")


def _check_type(value: Any, tp: Any, where: str) -> Any:
    """Validate (and lightly coerce: int->float, list->tuple) `value` against annotation `tp`."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _check_type(value, a, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(
            errors[0] if len(errors) == 1 else f"{where}: {excerpt(value)} does not fit {_name(tp)}"
        )
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {excerpt(value)} is not one of {', '.join(repr(a) for a in args)}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {excerpt(value)}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
            return tuple(
                _check_type(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))
            )
        inner = args[0] if args else Any
        out = [_check_type(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {excerpt(value)}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {excerpt(value)}")
        return from_dict(tp, value, where=where)
    if tp is float:
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            with contextlib.suppress(ValueError):  # "1__0" matches but is no number
                return float(value)  # "1e-3": YAML 1.1 reads it as text, a user means the number
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {excerpt(value)}")
        try:
            return float(value)
        except OverflowError:
            raise ConfigError(f"{where}: {excerpt(value)} is too large for a number") from None
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {excerpt(value)}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {excerpt(value)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {excerpt(value)}")
        return value
    if tp is Path:
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"{where}: expected a path, got {excerpt(value)}")
        return Path(value)
    return value


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def from_dict(cls: type[C], data: dict[str, Any], where: str = "config") -> C:
    """Build dataclass `cls` from `data`, rejecting unknown keys (with a suggestion) and bad types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of options, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in data.items():
        norm = key.replace("-", "_") if isinstance(key, str) else key
        if norm not in fields:
            close = difflib.get_close_matches(str(norm)[:100], list(fields), n=1, cutoff=0.6)
            keys = ", ".join(fields)
            if len(keys) > 300:
                keys = f"the {len(fields)} long options --help lists, without the leading --"
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {keys}"
            raise ConfigError(f"{where}: unknown key {excerpt(key)}{hint}")
        kwargs[norm] = _check_type(value, hints[norm], f"{where}: {key}")
    try:
        obj = cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from None
    check_finite(obj, lambda n: f"{where}: {n}")
    return obj


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A small YAML text file of options -> dict; anything else (huge, binary, a device, an alias
    bomb, nesting deep enough to overflow the parser) is a one-line ConfigError naming the file."""
    text = _read_text(Path(path))
    depth = max(itertools.accumulate(1 if c in "[{" else -1 for c in _BRACKETS.findall(text)), default=0)
    if depth > MAX_NESTING:  # PyYAML's scanner is quadratic in flow nesting: refuse before parsing
        raise ConfigError(f"{path}: brackets nested {depth} deep; a config file needs a few levels at most")
    try:
        data = yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConfigError(f"{path}: not valid YAML ({excerpt(first, 120)})") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config file") from None
    except (ValueError, OverflowError, TypeError) as e:  # a value YAML parses but Python cannot hold
        raise ConfigError(f"{path}: unreadable value ({excerpt(str(e), 120)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of options at the top level, got {excerpt(data)}")
    return data


def _read_text(path: Path) -> str:
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            raise ConfigError(f"config {path}: is not a regular file; pass a YAML file")
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror or e}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config {path}: larger than {MAX_CONFIG_BYTES // 1024} KiB; a config is a small YAML file"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"config {path}: not UTF-8 text (byte {raw[e.start]:#04x} at offset {e.start}); pass a YAML file"
        ) from None
    if "\0" in text:
        raise ConfigError(f"config {path}: holds NUL bytes, so it is not a text file; pass a YAML file")
    return text


class _BoundedLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses documents whose aliases expand to more than MAX_YAML_NODES values."""

    def compose_document(self) -> Any:
        node = super().compose_document()
        sizes: dict[int, int] = {}

        def size(n: Any) -> int:  # expanded value count, each shared node computed once
            if id(n) in sizes:
                return sizes[id(n)]
            sizes[id(n)] = 1  # a recursive alias counts once instead of looping
            children = n.value if isinstance(n, yaml.SequenceNode) else (
                [x for kv in n.value for x in kv] if isinstance(n, yaml.MappingNode) else []
            )  # fmt: skip
            total = 1 + sum(size(c) for c in children)
            sizes[id(n)] = total
            if total > MAX_YAML_NODES:
                raise yaml.YAMLError(
                    f"more than {MAX_YAML_NODES} values once aliases are expanded; a config holds a few dozen"
                )
            return total

        if node is not None:
            size(node)
        return node


def load_config(cls: type[C], path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> C:
    """Defaults <- YAML file (overrides only) <- explicit overrides (CLI flags that were given)."""
    data: dict[str, Any] = {}
    where = "config"
    if path is not None:
        data.update(read_yaml(path))
        where = str(path)
    if overrides:
        data.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(cls, data, where=where)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain dict (paths as strings, tuples as lists) suitable for YAML/JSON."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(cfg)


def dump_yaml(cfg: Any) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)


def option(default: Any = dataclasses.MISSING, help: str = "", **meta: Any) -> Any:  # noqa: A002
    """A config field that carries its CLI help (`metadata["help"]`, plus e.g. `metavar`, `flag`,
    `positional`, `nargs`), so `edgetl.cli._fields` can build its flag. No default: required."""
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata={"help": help, **meta})
    return dataclasses.field(default=default, metadata={"help": help, **meta})
