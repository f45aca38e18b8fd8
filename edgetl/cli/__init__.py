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

SUBCOMMANDS = ["train", "eval", "export", "predict", "bench", "run", "select", "report"]


def build_parser() -> argparse.ArgumentParser:
    from edgetl import __version__

    parser = argparse.ArgumentParser(
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
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from edgetl.errors import EdgetlError

    parser = build_parser()
    args = parser.parse_args(argv)
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
