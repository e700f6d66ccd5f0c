"""How the `meetfleet` command reports: every error ends in one place, `report_error` below
(called by the root command): one mapping from the error to its exit code, its message on
stderr and, with --json, one JSON document `{"error": {...}}` on stdout. Printing itself
(literal text, whole tables, JSON, exit codes) is meetfleet.console's, shared with the
capacity exporter.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

import click
from rich.text import Text

from meetfleet.console import (  # re-exported: the CLI modules print through these
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_OK,
    emphasis,
    json_option,
    print_json,
    say,
    table,
)
from meetfleet.fleet.errors import InventoryError
from meetfleet.fleet.lock import InventoryBusyError

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILURE", "EXIT_OK", "CommandError", "bad_input", "emphasis", "fail",
           "json_option", "print_json", "report_error", "say", "table"]

# Set to see the traceback of an unexpected error (a bug) instead of its one-line message.
TRACEBACK_ENV = "MEETFLEET_TRACEBACK"


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
