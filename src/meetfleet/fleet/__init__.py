"""The fleet model and the one loader every Python part reads the inventory through."""

from meetfleet.fleet.errors import InventoryError, Problem
from meetfleet.fleet.loader import Inventory, host_groups, host_variables, load_inventory, open_inventory
from meetfleet.fleet.model import (
    BbbServer,
    CapacitySource,
    Fleet,
    Host,
    PlacementPolicy,
    Plan,
    Region,
    ServerState,
    Tenant,
)

__all__ = [
    "BbbServer",
    "CapacitySource",
    "Fleet",
    "Host",
    "Inventory",
    "InventoryError",
    "PlacementPolicy",
    "Plan",
    "Problem",
    "Region",
    "ServerState",
    "Tenant",
    "host_groups",
    "host_variables",
    "load_inventory",
    "open_inventory",
]
