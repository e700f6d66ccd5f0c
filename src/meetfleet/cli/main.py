"""Entry point of the `meetfleet` command.

Exit codes: 0 ok, 1 the work failed, 2 bad input (inventory, argument, option).
"""

from __future__ import annotations

import click

from meetfleet import __version__
from meetfleet.cli.inventory import inventory


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="meetfleet")
def cli() -> None:
    """Fleet automation for cooperatives hosting BigBlueButton.

    Exit codes: 0 ok, 1 the work failed, 2 bad input (nothing was changed).
    """


cli.add_command(inventory)

if __name__ == "__main__":
    cli()
