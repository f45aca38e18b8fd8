"""Argument types shared by the subcommands: comma-separated lists, as users type them."""

from __future__ import annotations

import argparse


def comma_list(text: str) -> list[str]:
    """`"cpu, cuda,"` -> ["cpu", "cuda"]: blanks and empty items dropped."""
    return [x.strip() for x in text.split(",") if x.strip()]


def int_list(text: str) -> list[int]:
    """`"1,8,32"` -> [1, 8, 32]; anything else is argparse's one-line usage error."""
    try:
        return [int(x) for x in comma_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers like 1,8,32, got {text!r}"
        ) from None
