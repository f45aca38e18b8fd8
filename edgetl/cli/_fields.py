"""Flags generated from a config dataclass: each field's type, default and help make its flag, so
a subcommand and the library cannot drift apart (one source of truth per option).

    add_subcommand(subparsers, "predict", PredictConfig, (HELP, DESCRIPTION), {"--json": "one JSON document"})
    cfg = PredictConfig(**given(args, PredictConfig))               # only what the user typed

Field metadata (`edgetl.config.option`): `help`; `positional` (with `nargs`, `metavar`) for an
argument without dashes; `flag` where the flag is not spelled like the field (a bool with its own
flag is a switch that flips the default); `metavar`; `nargs`. Types: bool -> `--x/--no-x`,
Literal -> choices, tuple -> N numbers, list[int] / list[str] -> comma lists, int, float, str.
A flag not given parses to None, so a recipe or the config's default holds; a nullable number
whose default is not None also takes `none`.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Callable, Iterable
from typing import Any

from edgetl.cli._args import comma_list, int_list
from edgetl.flags import flag_of

_NONE = object()  # `--flag none` for a nullable option whose default is not None


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed)."""
    if typing.get_origin(tp) in (typing.Union, type(int | None)):
        args = typing.get_args(tp)
        return next(a for a in args if a is not type(None)), type(None) in args
    return tp, False


def _or_none(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse_or_none(text: str) -> Any:
        if text.strip().lower() in ("none", "off", "no"):
            return _NONE
        try:
            return parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number or 'none', got {text!r}") from None

    return parse_or_none


def _value_kwargs(f: dataclasses.Field, base: Any, nullable: bool) -> dict[str, Any]:
    """argparse's type/choices/nargs for a field that takes a value."""
    if typing.get_origin(base) is typing.Literal:
        return {"choices": list(typing.get_args(base)), "type": str}
    if typing.get_origin(base) is tuple:
        n = f.metadata.get("nargs") or len(typing.get_args(base))
        return {"nargs": n, "type": float, "metavar": f.metadata.get("metavar", ("MIN", "MAX"))}
    if typing.get_origin(base) is list:
        return {"type": int_list if typing.get_args(base) == (int,) else comma_list}
    parse = {int: int, float: float}.get(base, str)
    if nullable and base in (int, float) and f.default not in (None, dataclasses.MISSING):
        parse = _or_none(parse)
    return {"type": parse}


def add_field(
    parser: argparse.ArgumentParser, f: dataclasses.Field, tp: Any, parse: Callable[[str], Any] | None = None
) -> None:
    """One argument for config field `f` of type `tp`; `parse` overrides the type's own parser."""
    meta, help_text = f.metadata, f.metadata.get("help", "")
    if meta.get("positional"):
        parser.add_argument(f.name, nargs=meta.get("nargs"), metavar=meta.get("metavar"), help=help_text)
        return
    base, nullable = _unwrap(tp)
    kw: dict[str, Any] = {"dest": f.name, "default": None, "help": help_text}
    if base is bool and "flag" in meta:
        kw.update(action="store_const", const=not f.default)
    elif base is bool:
        kw["action"] = argparse.BooleanOptionalAction
    else:
        kw.update(_value_kwargs(f, base, nullable))
        if parse is not None:
            kw["type"] = parse
        if "metavar" in meta:
            kw["metavar"] = meta["metavar"]
    parser.add_argument(flag_of(f), **kw)  # the spelling edgetl.flags renders commands with


def add_fields(
    parser: argparse.ArgumentParser,
    cls: type,
    skip: Iterable[str] = (),
    parsers: dict[str, Callable[[str], Any]] | None = None,
) -> None:
    """An argument per field of dataclass `cls`, in field order (`skip`: fields the CLI sets itself)."""
    hints, skip, parsers = typing.get_type_hints(cls), set(skip), parsers or {}
    for f in dataclasses.fields(cls):
        if f.name not in skip:
            add_field(parser, f, hints[f.name], parsers.get(f.name))


def add_subcommand(
    subparsers: Any,
    name: str,
    cls: type,
    about: tuple[str, str],
    switches: dict[str, str] | None = None,
    **kwargs: Any,
) -> argparse.ArgumentParser:
    """`edgetl NAME` with the flags of config `cls`; `about` is (help, description); `switches` are
    output-only on/off flags ({"--json": help}); kwargs go to `add_fields` (skip, parsers)."""
    parser = subparsers.add_parser(name, help=about[0], description=about[1])
    add_fields(parser, cls, **kwargs)
    for flag, help_text in (switches or {}).items():
        parser.add_argument(flag, action="store_true", help=help_text)
    return parser


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The options of `cls` the user gave on the command line, as the config's types want them."""
    hints, out = typing.get_type_hints(cls), {}
    for f in dataclasses.fields(cls):
        value = getattr(args, f.name, None)
        if value is None:
            continue
        if value is _NONE:
            value = None
        elif typing.get_origin(_unwrap(hints[f.name])[0]) is tuple:
            value = tuple(value)
        out[f.name] = value
    return out


__all__ = ["add_field", "add_fields", "add_subcommand", "given"]
