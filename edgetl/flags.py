"""Config dataclass -> the command line that asks for it: the inverse of the flags the CLI generates.

    to_argv(ExportConfig(source="runs/a", target="cuda", softmax=True), skip=("source",))
    # ['--target', 'cuda', '--softmax']
    command(["edgetl", "export", "runs/a"], cfg, first=("target", "precisions"), skip=("source",))
    # 'edgetl export runs/a --target cpu-x86 --precisions fp32,int8 --softmax'

The subcommands build their flags from the same fields (`edgetl/cli/_fields.py`, with the
spelling `flag_of` gives), and `to_argv` writes what that parser reads: `--field-name` (or
`metadata["flag"]`), lists as comma lists, tuples as separate values, `none` for None, a boolean
as the switch that sets it (`--x` / `--no-x`, or the field's own `flag`, which flips its
default). Positional fields and those in `skip` are left to the caller; only values that differ
from the dataclass default are written, so a command shows what was chosen.
`tests/test_flags.py` parses rendered commands with the real parser, so the two cannot drift.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Iterable, Sequence
from typing import Any


def flag_of(f: dataclasses.Field) -> str:
    """The flag of config field `f`: `metadata["flag"]`, else `--` + the name with dashes."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def default_of(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def _value(v: Any) -> list[str]:
    if v is None:
        return ["none"]
    if isinstance(v, tuple):  # fixed-length options (e.g. --scale MIN MAX) take separate values
        return [str(x) for x in v]
    if isinstance(v, list):
        return [",".join(str(x) for x in v)]
    return [str(v)]


def field_argv(f: dataclasses.Field, value: Any) -> list[str]:
    """The argv that sets field `f` to `value`."""
    flag = flag_of(f)
    if isinstance(value, bool):
        if "flag" in f.metadata:  # a switch spelled its own way flips the default (--static-batch)
            return [flag] if value != default_of(f) else []
        return [flag] if value else ["--no-" + flag.removeprefix("--")]
    return [flag, *_value(value)]


def to_argv(cfg: Any, first: Sequence[str] = (), skip: Iterable[str] = ()) -> list[str]:
    """Flags for dataclass `cfg`: the `first` fields always, in that order, then every other field
    whose value differs from its default, in field order; `skip` fields (positionals, run-owned
    paths) never."""
    fields = {f.name: f for f in dataclasses.fields(cfg) if f.init and not f.metadata.get("positional")}
    skipped = set(skip) | set(first)
    argv: list[str] = []
    for name in first:
        argv += field_argv(fields[name], getattr(cfg, name))
    for name, f in fields.items():
        value = getattr(cfg, name)
        if name not in skipped and value != default_of(f):
            argv += field_argv(f, value)
    return argv


def command(
    prefix: Sequence[Any], cfg: Any = None, first: Sequence[str] = (), skip: Iterable[str] = ()
) -> str:
    """One shell-quoted command line: `prefix` (program, subcommand, positionals) + `to_argv(cfg)`."""
    words = [str(w) for w in prefix] + (to_argv(cfg, first, skip) if cfg is not None else [])
    return " ".join(shlex.quote(w) for w in words)


__all__ = ["command", "default_of", "field_argv", "flag_of", "to_argv"]
