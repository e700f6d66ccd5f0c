"""The fleet as the Python side sees it: regions, hosts, BBB servers, plans, tenants.

The inventory (an Ansible inventory directory) is the source of truth; these models are
what `meetfleet.fleet.loader` builds from it after validation. Field names are the
inventory's keys without their `fleet_` prefix.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, StringConstraints

from meetfleet.capacity.load import DEFAULT_LOAD_UNITS_PER_CPU

# Hetzner Cloud locations (hcloud `server.location`). There is no Canadian one: a Canadian
# server is a static host handed over by a partner.
HCLOUD_LOCATIONS: frozenset[str] = frozenset({"fsn1", "nbg1", "hel1", "ash", "hil", "sin"})

# Inventory groups that mean "this host runs that part of the service".
ROLE_GROUPS: tuple[str, ...] = ("bbb", "turn", "greenlight", "keycloak", "nextcloud", "monitoring")

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9.-]{0,253}[a-z0-9])?$")]


class ServerState(StrEnum):
    """Lifecycle of a BBB server, as placement and the exporter read it.

    active: takes new tenants. cordoned: keeps its tenants, takes no new ones.
    draining: its tenants are being moved away. retired: out of service, holds no tenant.
    """

    ACTIVE = "active"
    CORDONED = "cordoned"
    DRAINING = "draining"
    RETIRED = "retired"


ChecksumAlgorithm = Literal["sha1", "sha256", "sha384", "sha512"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Region(_Strict):
    name: Name
    description: str = ""
    timezone: str = "UTC"


class Plan(_Strict):
    """A service level: the caps a member organisation buys."""

    name: Name
    description: str = ""
    max_concurrent_users: PositiveInt
    max_rooms: PositiveInt
    max_meeting_minutes: PositiveInt


class HcloudSource(_Strict):
    kind: Literal["hcloud"] = "hcloud"
    location: str
    server_type: str = "cpx51"
    image: str = "ubuntu-22.04"


class StaticSource(_Strict):
    kind: Literal["static"] = "static"


class BbbServer(_Strict):
    """What the fleet knows about a BigBlueButton server (secrets excluded)."""

    capacity: PositiveInt = Field(description="most load units the server carries")
    state: ServerState = ServerState.ACTIVE
    api_url: str
    checksum_algorithm: ChecksumAlgorithm = "sha256"

    @staticmethod
    def capacity_from_cpus(cpus: int) -> int:
        return cpus * DEFAULT_LOAD_UNITS_PER_CPU


class Host(_Strict):
    name: Name
    region: Name
    roles: frozenset[str]
    address: str | None = None
    source: HcloudSource | StaticSource
    bbb: BbbServer | None = None


class Tenant(_Strict):
    """A member organisation and where its meetings run."""

    name: Name
    plan: Name
    region: Name
    bbb_server: Name | None = None
    greenlight: Name | None = None
    sso_client: str | None = None
    # bbb-origin-server-name values its Greenlight sets on meetings, beside the
    # meta_tenant tag; lets the exporter attribute meetings to the tenant.
    origin_server_names: tuple[str, ...] = ()
    timezone: str | None = None


class PlacementPolicy(StrEnum):
    """How placement chooses among the servers that can take a newcomer (fleet_placement_policy).

    most_spare: the server with the most spare capacity left once placed (the mission's rule).
    pack: the fullest server that is safe even at every recent tenant's plan cap, keeping
    the emptiest servers free for the next big tenant; the most spare when none is that safe.
    """

    MOST_SPARE = "most_spare"
    PACK = "pack"


class CapacitySource(_Strict):
    """Where operators' commands read the fleet's capacity (fleet_capacity_source).

    `kind` prometheus: its query API at `url` (with history); exporter: the capacity
    exporter's /metrics at `url` (a snapshot). Basic-auth credentials: `username`, and the
    password from the environment (MEETFLEET_CAPACITY_PASSWORD) or from the inventory
    variable named by `password_variable` (a vault variable): never on a command line.
    """

    kind: Literal["prometheus", "exporter"]
    url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s/?#]+(/[^\s]*)?$", max_length=2048)]
    username: Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\s:]+$")] | None = None
    password_variable: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")] | None = None
    ca_file: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None


class Fleet(_Strict):
    """The whole validated inventory."""

    regions: dict[str, Region]
    plans: dict[str, Plan]
    hosts: dict[str, Host]
    tenants: dict[str, Tenant]
    capacity_source: CapacitySource | None = None
    placement_policy: PlacementPolicy = PlacementPolicy.MOST_SPARE

    @property
    def bbb_servers(self) -> dict[str, Host]:
        return {name: host for name, host in self.hosts.items() if host.bbb is not None}

    def tenants_on(self, server: str) -> list[Tenant]:
        return [t for t in self.tenants.values() if t.bbb_server == server]

    def tenant_timezone(self, tenant: Tenant) -> str:
        return tenant.timezone or self.regions[tenant.region].timezone
