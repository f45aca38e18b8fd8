"""`edgetl` command line: a thin shell over the library.

Each subcommand module defines `add_parser(subparsers)` and `run(args) -> int`; it parses,
builds a typed config, and calls one library function. The flags are generated from that
config dataclass's fields and help (`edgetl.cli._fields`: `add_fields`, `add_subcommand`,
`given`), so a flag cannot drift from the option it sets; only output switches (`--json`,
`--quiet`) are written by hand. Progress and warnings go through `edgetl.progress.Reporter`.
Heavy modules are imported lazily, inside `run`, so `edgetl --help` is instant. `EdgetlError`
becomes one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import typing

SUBCOMMANDS = ["train", "eval", "export", "predict", "bench", "run", "select", "report"]


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line error of every other bad input (its usage block was 10-30 lines)."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    from edgetl import __version__

    parser = _Parser(  # the subcommands' parsers are made by this class too (argparse's parser_class)
        prog="edgetl", description="Train, export and benchmark edge image classifiers."
    )
    parser.add_argument("--version", action="version", version=f"edgetl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            mod = importlib.import_module(f"edgetl.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"edgetl.cli.{name}":
                continue  # stage not built yet
            raise
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run, _parser=p)
    return parser


def main(argv: list[str] | None = None) -> int:
    from edgetl.errors import EdgetlError

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # named by the subcommand's parser: "edgetl export: error: unrecognized arguments: ..."
        getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except EdgetlError as e:
        print(f"edgetl {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"edgetl {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
