"""How commands talk to people (tables, messages) and machines (--json), and what exit codes mean.

Everything a user typed or the inventory holds is printed literally: rich markup is never
parsed in it (a tenant called `[/]` must not crash a command, `[bold]eu[/]` must print as
typed). Tables never cut a number or a name: those columns do not wrap, free text wraps at
spaces, and a table is never squeezed below the width its names and numbers need; piped
output is not wrapped at all.

Every error ends in one place, `report_error` below (called by the root command): one
mapping from the error to its exit code, its message on stderr and, with --json, one JSON
document `{"error": {...}}` on stdout.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any, NoReturn

import click
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from meetfleet.fleet.errors import InventoryError
from meetfleet.fleet.lock import InventoryBusyError

# Exit codes, the same for every subcommand (documented in README.md).
EXIT_OK = 0
EXIT_FAILURE = 1  # the command was right but the work failed (a host down, podman failed...)
EXIT_BAD_INPUT = 2  # the inventory, an argument or an option is wrong; nothing was changed

# Set to see the traceback of an unexpected error (a bug) instead of its one-line message.
TRACEBACK_ENV = "MEETFLEET_TRACEBACK"


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


def wants_json(args: Sequence[str]) -> bool:
    """--json among the command line's options (before a `--`): also for errors click finds parsing it."""
    options = args[: list(args).index("--")] if "--" in args else args
    return "--json" in options


# --- errors ----------------------------------------------------------------------------


class CommandError(Exception):
    """A command's outcome other than success.

    `kind` names it for machines; `details` go into the JSON error object, `document`
    beside it (e.g. the placement that found nothing fits); `human` is what stderr says
    (default "error: MESSAGE").
    """

    def __init__(self, message: str, code: int = EXIT_FAILURE, kind: str = "failed", *,
                 details: dict[str, Any] | None = None, document: dict[str, Any] | None = None,
                 human: str | Text | None = None, show: Callable[[], None] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.kind = kind
        self.details = details or {}
        self.document = document or {}
        self.human = human
        self.show = show

    def as_json(self) -> dict[str, Any]:
        return {**self.document,
                "error": {"kind": self.kind, "message": self.message, "exit_code": self.code, **self.details}}

    def print_human(self) -> None:
        if self.show is not None:
            self.show()
        elif isinstance(self.human, Text | str):
            say(self.human, err=True)
        else:
            say(emphasis(("error:", "red"), " ", self.message), err=True)


def fail(message: str, code: int = EXIT_FAILURE, kind: str = "failed", **details: Any) -> NoReturn:
    raise CommandError(message, code, kind, details=details)


def bad_input(message: str, kind: str = "bad_input", **details: Any) -> NoReturn:
    raise CommandError(message, EXIT_BAD_INPUT, kind, details=details)


def problems_json(problems: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"file": None if p.file is None else str(p.file), "key": p.key, "message": p.message}
            for p in problems]


def as_command_error(exc: BaseException) -> CommandError:
    """The one mapping from what went wrong to an exit code, a kind and a message."""
    # Imported here: the lab and placement packages need not load for every command.
    from meetfleet.capacity_sources import SourceError
    from meetfleet.lab.podman import LabError
    from meetfleet.placement.decide import PlacementInputError

    if isinstance(exc, CommandError):
        return exc
    if isinstance(exc, InventoryError):
        from meetfleet.fleet.writer import InventoryWriteError

        refused = isinstance(exc, InventoryWriteError) and not exc.invalid_before
        # Invalid before any edit: the same report as a plain load of the inventory gives.
        human = exc.render() if refused else InventoryError.render(exc)
        return CommandError(human.splitlines()[0], EXIT_BAD_INPUT, "write_refused" if refused else "invalid_inventory",
                            details={"problems": problems_json(exc.problems)}, human=human)
    if isinstance(exc, PlacementInputError):
        # the request, not the inventory: named by the option it came from
        return CommandError(f"--{exc.field}: {exc}", EXIT_BAD_INPUT, f"unknown_{exc.field}")
    if isinstance(exc, InventoryBusyError):
        return CommandError(str(exc), EXIT_FAILURE, "inventory_busy", human=str(exc))
    if isinstance(exc, SourceError):
        return CommandError(str(exc), EXIT_FAILURE, "capacity_source_failed")
    if isinstance(exc, LabError):
        return CommandError(str(exc), EXIT_FAILURE, "lab_failed")
    if isinstance(exc, click.UsageError):
        # click's own message and usage line for people; the same message for machines.
        return CommandError(exc.format_message(), EXIT_BAD_INPUT if exc.exit_code == 2 else exc.exit_code,
                            "usage", show=exc.show)
    if isinstance(exc, click.ClickException):
        return CommandError(exc.format_message(), exc.exit_code, "failed", show=exc.show)
    if isinstance(exc, click.Abort | KeyboardInterrupt | EOFError):
        return CommandError("aborted", EXIT_FAILURE, "aborted", human="Aborted!")
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return CommandError(f"{exc.strerror or exc}{where}", EXIT_FAILURE, "os_error")
    return CommandError(f"unexpected {type(exc).__name__}: {exc} (a bug: please report it; "
                        f"{TRACEBACK_ENV}=1 shows where)", EXIT_FAILURE, "internal")


def report_error(exc: BaseException, as_json: bool) -> int:
    """Print the error (stderr; with --json also one JSON document on stdout) and return its exit code."""
    if os.environ.get(TRACEBACK_ENV) and not isinstance(exc, CommandError | click.ClickException):
        raise exc
    error = as_command_error(exc)
    error.print_human()
    if as_json:
        print_json(error.as_json())
    return error.code


class MeetfleetGroup(click.Group):
    """The root command: runs a subcommand and turns whatever it raises into `report_error`."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        try:
            result = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
            # Without standalone mode click returns --help's and --version's exit code, else the
            # command's return value (None for every meetfleet command).
            code = result if isinstance(result, int) and not isinstance(result, bool) else EXIT_OK
        except SystemExit:
            raise
        except BaseException as exc:
            code = report_error(exc, wants_json(argv))
        if not standalone_mode:
            return code
        sys.exit(code)


def _passthrough(func: Callable) -> Callable:
    return func


# The root command maps every error (report_error); these names stay so command modules
# can still mark what they expect to raise.
handle_inventory_errors = _passthrough
handle_busy_inventory = _passthrough
