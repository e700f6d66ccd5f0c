"""The Greenlight instances the inventory asks of each greenlight host, computed without a server
(roles/greenlight reads them through its filter plugin)."""

from meetfleet.greenlight.instances import (
    SHARED_INSTANCE,
    GreenlightError,
    Instance,
    allocate,
    dedicated_host,
    fleet_secret_variables,
    host_instances,
    secret_variable,
    shared_host,
)

__all__ = ["SHARED_INSTANCE", "GreenlightError", "Instance", "allocate", "dedicated_host", "fleet_secret_variables",
           "host_instances", "secret_variable", "shared_host"]
