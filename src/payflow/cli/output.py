"""What the CLI prints: plain-text tables (aligned, no borders, easy to grep) and errors."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def render(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A table on stdout, or `(none)` when there are no rows."""
    print(render(headers, rows) if rows else "(none)")


def text(value: object) -> str:
    """How a JSON value reads in a cell: `-` for null."""
    return "-" if value is None else str(value)


def error(message: str) -> None:
    """A failure, on stderr so that stdout stays the command's result."""
    print(f"✗ {message}", file=sys.stderr, flush=True)
