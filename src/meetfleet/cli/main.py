"""Entry point of the `meetfleet` command.

Exit codes: 0 ok, 1 the work failed, 2 bad input (inventory, argument, option).
"""

from __future__ import annotations

import click

from meetfleet import __version__
from meetfleet.cli.capacity import capacity
from meetfleet.cli.cloud import ci_vm, cloud, server_create, server_delete
from meetfleet.cli.inventory import inventory
from meetfleet.cli.lab import lab
from meetfleet.cli.output import MeetfleetGroup
from meetfleet.cli.placement import place_command
from meetfleet.cli.server import server
from meetfleet.cli.tenant import tenant


# MeetfleetGroup maps every error to its exit code and message (and JSON with --json).
@click.group(cls=MeetfleetGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="meetfleet")
def cli() -> None:
    """Fleet automation for cooperatives hosting BigBlueButton.

    Exit codes: 0 ok, 1 the work failed, 2 bad input (nothing was changed).
    """


cli.add_command(inventory)
cli.add_command(place_command)
cli.add_command(tenant)
cli.add_command(capacity)
cli.add_command(server)
server.add_command(server_create)
server.add_command(server_delete)
cli.add_command(cloud)
cli.add_command(ci_vm)
cli.add_command(lab)

if __name__ == "__main__":
    cli()
