"""How meetfleet's programs talk to people (tables, messages) and machines (JSON), and
what their exit codes mean: shared by the `meetfleet` command and the capacity exporter.

Everything a user typed or the inventory holds is printed literally: rich markup is never
parsed in it (a tenant called `[/]` must not crash a command, `[bold]eu[/]` must print as
typed). Tables never cut a number or a name: those columns do not wrap, free text wraps at
spaces, and a table is never squeezed below the width its names and numbers need; piped
output is not wrapped at all.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any

import click
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

# Exit codes, the same for every subcommand (documented in README.md).
EXIT_OK = 0
EXIT_FAILURE = 1  # the command was right but the work failed (a host down, podman failed...)
EXIT_BAD_INPUT = 2  # the inventory, an argument or an option is wrong; nothing was changed

# --- consoles ------------------------------------------------------------------------


def _stream(err: bool) -> IO[str]:
    # Looked up at each print: click's test runner (and callers) swap sys.stdout/stderr.
    return sys.stderr if err else sys.stdout


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _console(err: bool = False, width: int | None = None) -> Console:
    stream = _stream(err)
    # A pipe or a file gets lines as long as they are (soft wrap): cutting them at 80 columns
    # helps nobody and breaks grep.
    return Console(file=stream, width=width, soft_wrap=not _is_terminal(stream), highlight=False,
                   emoji=False)


def say(message: str | Text, *, err: bool = False, style: str | None = None) -> None:
    """Print a message literally (a str is never parsed as markup)."""
    text = message if isinstance(message, Text) else Text(message, style=style or "")
    _console(err).print(text)


def emphasis(*parts: str | tuple[str, str]) -> Text:
    """Text from plain parts and (text, style) pairs: styling without parsing user text as markup."""
    return Text.assemble(*parts)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a table whose names and numbers are never wrapped or cut.

    A column whose cells hold no whitespace (names, numbers, states, URLs) never wraps;
    columns of free text wrap at spaces. Numbers are right-aligned. The table is never
    narrower than its unwrappable columns need, even in a narrow terminal (the terminal
    folds the line then, nothing is lost); piped, it is as wide as its content.
    """
    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    out = Table(box=box.SIMPLE_HEAD, header_style="bold", padding=0, pad_edge=False, show_edge=False)
    for i, column in enumerate(columns):
        values = [row[i] for row in cells if i < len(row)]
        free_text = any(any(ch.isspace() for ch in value) for value in values)
        numeric = bool(values) and all(_is_number(v) for v in values if v not in ("", "?", "-"))
        # A column that must not wrap asks for its whole width, so rich's measure of the
        # table's minimum (used below) covers it: rich would otherwise squeeze and cut it.
        whole = None if free_text else max(cell_len(v) for v in [column, *values])
        out.add_column(Text(column), no_wrap=not free_text, overflow="fold" if free_text else "ellipsis",
                       justify="right" if numeric else "left", min_width=whole)
    for row in cells:
        out.add_row(*(Text(cell) for cell in row))
    stdout = _stream(False)
    measure = Console(file=stdout, width=100_000)
    needed = Measurement.get(measure, measure.options, out)
    # A terminal: its width, but never less than the names and numbers need. Elsewhere: all of it.
    width = max(_console().width, needed.minimum) if _is_terminal(stdout) else needed.maximum
    say(Text(title, style="bold"))
    _console(width=width).print(out)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


# --- --json ----------------------------------------------------------------------------


def json_option(func: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print JSON for machines (errors too: one document with an \"error\" object).")(func)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
