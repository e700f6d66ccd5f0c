"""How commands talk to people (tables) and machines (--json), and what exit codes mean."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from functools import wraps
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from meetfleet.fleet.errors import InventoryError
from meetfleet.fleet.lock import InventoryBusyError

# Exit codes, the same for every subcommand (documented in README.md).
EXIT_OK = 0
EXIT_FAILURE = 1  # the command was right but the work failed (a host down, podman failed...)
EXIT_BAD_INPUT = 2  # the inventory, an argument or an option is wrong; nothing was changed

console = Console()
err_console = Console(stderr=True)


def json_option(func: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(func)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    out = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*("" if cell is None else str(cell) for cell in row))
    console.print(out)


def fail(message: str, code: int = EXIT_FAILURE) -> None:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    sys.exit(code)


def bad_input(message: str) -> None:
    fail(message, EXIT_BAD_INPUT)


def exit_on(error: type[Exception], code: int, render: Callable[[Exception], str] = str) -> Callable:
    """Decorator: `error` raised by a command becomes its message on stderr and exit `code`."""

    def decorate(func: Callable) -> Callable:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except error as exc:
                click.echo(render(exc), err=True)
                sys.exit(code)

        return wrapper

    return decorate


# An invalid inventory is bad input: every problem, then exit 2.
handle_inventory_errors = exit_on(InventoryError, EXIT_BAD_INPUT, lambda exc: exc.render())
# Another command kept the inventory's write lock: a failure to retry, exit 1.
handle_busy_inventory = exit_on(InventoryBusyError, EXIT_FAILURE)
