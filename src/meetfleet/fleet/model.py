"""The fleet as the Python side sees it: regions, hosts, BBB servers, plans, tenants.

The inventory (an Ansible inventory directory) is the source of truth; these models are
what `meetfleet.fleet.loader` builds from it after validation. Field names are the
inventory's keys without their `fleet_` prefix.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    model_validator,
)

from meetfleet.capacity.load import DEFAULT_LOAD_UNITS_PER_CPU

# Hetzner Cloud locations (hcloud `server.location`). There is no Canadian one: a Canadian
# server is a static host handed over by a partner.
HCLOUD_LOCATIONS: frozenset[str] = frozenset({"fsn1", "nbg1", "hel1", "ash", "hil", "sin"})

# Inventory groups that mean "this host runs that part of the service".
ROLE_GROUPS: tuple[str, ...] = ("bbb", "turn", "greenlight", "keycloak", "nextcloud", "monitoring", "gateway")

# Upper bounds of the numbers of the record (docs/architecture.md lists them). Beyond them
# a value is a typo, not a fleet: a 300-digit capacity would overflow what placement and
# the exporter compute with.
MAX_CPUS = 1024
MAX_CAPACITY = 100_000  # load units; 1024 CPUs at the default 50 per CPU are 51,200
MAX_CONCURRENT_USERS = 100_000
MAX_ROOMS = 10_000
MAX_MEETING_MINUTES = 7 * 24 * 60  # a week: BBB's `duration` is in minutes
MAX_DESCRIPTION = 200
MAX_URL = 2048
MAX_ORIGIN_SERVER_NAMES = 64

# Host-level fleet keys (host_vars, group_vars, hosts.yml vars) and what they mean. Any
# other `fleet_` key is refused: a misspelt one would be silently ignored.
HOST_KEYS: dict[str, str] = {
    "fleet_region": "the region the host is in",
    "fleet_provider": "hcloud or static",
    "fleet_hcloud_location": "Hetzner Cloud location (hcloud hosts)",
    "fleet_hcloud_server_type": "Hetzner Cloud server type (hcloud hosts)",
    "fleet_hcloud_image": "Hetzner Cloud image (hcloud hosts)",
    "fleet_bbb_capacity": "load units a BBB server carries",
    "fleet_bbb_cpus": "CPU count a BBB server's capacity is derived from",
    "fleet_bbb_state": "active, cordoned, draining or retired",
    "fleet_bbb_api_url": "the BBB API base URL, ending in /bigbluebutton/api",
    "fleet_bbb_checksum_algorithm": "sha1, sha256, sha384 or sha512",
    "fleet_lab": "true in the lab inventory: playbooks use the lab's stand-ins (read by Ansible)",
}
# Fleet-wide keys: each defined once, in group_vars/all/.
FLEET_KEYS: tuple[str, ...] = ("fleet_regions", "fleet_plans", "fleet_tenants", "fleet_capacity_source",
                               "fleet_placement_policy", "fleet_gateway", "fleet_sso")

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAME_PATTERN = r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$"
NAME_RE = re.compile(_NAME_PATTERN[:-1] + r"\Z")

# A host's name: a lowercase DNS name. Other names (regions, plans, tenants): one DNS
# label's length, as they become labels, client ids and sub-domains.
HostName = Annotated[StrictStr, StringConstraints(pattern=_NAME_PATTERN, max_length=253)]
Name = Annotated[StrictStr, StringConstraints(pattern=_NAME_PATTERN, max_length=63)]


def _single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must be a single line of text without control characters")
    return value


Description = Annotated[StrictStr, StringConstraints(max_length=MAX_DESCRIPTION), AfterValidator(_single_line)]

_TIMEZONE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}")


@lru_cache(maxsize=1024)
def is_timezone(name: str) -> bool:
    """An IANA time zone name zoneinfo knows (Europe/Berlin). Never a path: "", "../etc"
    and "/etc/passwd" are refused before zoneinfo looks."""
    if not (0 < len(name) <= 64 and _TIMEZONE_RE.fullmatch(name)):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _timezone(value: str) -> str:
    if not is_timezone(value):
        raise ValueError("is not a known time zone (an IANA name such as Europe/Berlin)")
    return value


TimeZone = Annotated[StrictStr, StringConstraints(max_length=64), AfterValidator(_timezone)]


def check_http_url(value: str, bbb_api: bool = False) -> str:
    """`value` if it is an http(s) URL with a host, no credentials and no fragment; with
    `bbb_api`, BBB's API base, ending in /bigbluebutton/api (the client appends /CALL)."""
    if _CONTROL.search(value) or any(c.isspace() for c in value):
        raise ValueError("must be a URL without spaces or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host (http(s)://HOST/...)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold credentials (user:password@): they belong in the vault")
    if port == 0:
        raise ValueError("has port 0")
    if parts.fragment or "#" in value:
        raise ValueError("must not have a #fragment")
    if bbb_api:
        if parts.query or "?" in value:
            raise ValueError("must not have a ?query: the client appends /CALL?PARAMETERS")
        if not parts.path.rstrip("/").endswith("/bigbluebutton/api"):
            raise ValueError("must end in /bigbluebutton/api, the base BBB's API calls are under "
                             "(e.g. https://bbb.example.coop/bigbluebutton/api)")
    return value


HttpUrl = Annotated[StrictStr, StringConstraints(max_length=MAX_URL), AfterValidator(check_http_url)]
BbbApiUrl = Annotated[StrictStr, StringConstraints(max_length=MAX_URL),
                      AfterValidator(lambda v: check_http_url(v, bbb_api=True))]
# An origin server name (bbb-origin-server-name): the host name of a tenant's front end.
OriginServerName = Annotated[StrictStr, StringConstraints(
    pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$", max_length=253)]
Token = Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=64)]
# An Ansible variable's name (a vault variable a secret is read from).
VariableName = Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
# A mail domain (a member organisation's e-mail addresses end in @DOMAIN): a lowercase DNS
# name with at least one dot.
MailDomain = Annotated[StrictStr, StringConstraints(
    pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", max_length=253)]
MAX_SSO_DOMAINS = 64


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
    """No unknown keys, no coercion: a string is not a number, true is not 1 (the field
    types are pydantic's Strict* types; enums accept their values)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _hcloud_location(value: str) -> str:
    if value not in HCLOUD_LOCATIONS:
        raise ValueError(f"is not a Hetzner Cloud location (known: {', '.join(sorted(HCLOUD_LOCATIONS))})")
    return value


class RegionHcloud(_Strict):
    """Where `meetfleet server create` makes a region's new VMs (fleet_regions.NAME.hcloud;
    docs/cloud.md): its location, its server type (`server_types` per host kind first)
    and image. A region without it has no Hetzner location: its hosts are static."""

    location: Annotated[Token, AfterValidator(_hcloud_location)]
    server_type: Token = "cpx31"
    server_types: dict[Literal[ROLE_GROUPS], Token] = Field(default_factory=dict)  # type: ignore[valid-type]
    image: Token = "ubuntu-22.04"


class Region(_Strict):
    name: Name
    description: Description = ""
    timezone: TimeZone = "UTC"
    hcloud: RegionHcloud | None = None


class Plan(_Strict):
    """A service level: the caps a member organisation buys."""

    name: Name
    description: Description = ""
    max_concurrent_users: Annotated[StrictInt, Field(gt=0, le=MAX_CONCURRENT_USERS)]
    max_rooms: Annotated[StrictInt, Field(gt=0, le=MAX_ROOMS)]
    max_meeting_minutes: Annotated[StrictInt, Field(gt=0, le=MAX_MEETING_MINUTES)]


class HcloudSource(_Strict):
    kind: Literal["hcloud"] = "hcloud"
    location: Token
    server_type: Token = "cpx51"
    image: Token = "ubuntu-22.04"


class StaticSource(_Strict):
    kind: Literal["static"] = "static"


class BbbServer(_Strict):
    """What the fleet knows about a BigBlueButton server (secrets excluded)."""

    capacity: Annotated[StrictInt, Field(gt=0, le=MAX_CAPACITY, description="most load units the server carries")]
    state: ServerState = ServerState.ACTIVE
    api_url: BbbApiUrl
    checksum_algorithm: ChecksumAlgorithm = "sha256"

    @staticmethod
    def capacity_from_cpus(cpus: int) -> int:
        """Load units of `cpus` CPUs (1..MAX_CPUS, checked by the loader)."""
        return cpus * DEFAULT_LOAD_UNITS_PER_CPU


class Host(_Strict):
    name: HostName
    region: Name
    roles: frozenset[StrictStr]
    address: Annotated[StrictStr, StringConstraints(pattern=r"^[^\s\x00-\x1f\x7f]+$", max_length=253)] | None = None
    source: HcloudSource | StaticSource
    bbb: BbbServer | None = None
    lab: bool = False  # fleet_lab: its playbooks apply the lab's stand-ins


class TenantLimits(_Strict):
    """A tenant's own caps in place of its plan's (an event, a trial): each one optional,
    bounded like the plan's. Read by the gateway, which enforces them."""

    max_concurrent_users: Annotated[StrictInt, Field(gt=0, le=MAX_CONCURRENT_USERS)] | None = None
    max_rooms: Annotated[StrictInt, Field(gt=0, le=MAX_ROOMS)] | None = None
    max_meeting_minutes: Annotated[StrictInt, Field(gt=0, le=MAX_MEETING_MINUTES)] | None = None


class Tenant(_Strict):
    """A member organisation and where its meetings run."""

    name: Name
    plan: Name
    region: Name
    bbb_server: HostName | None = None
    greenlight: HostName | None = None
    sso_client: Annotated[StrictStr, StringConstraints(pattern=r"^[^\s\x00-\x1f\x7f]+$", max_length=255)] | None = None
    # bbb-origin-server-name values its Greenlight sets on meetings, beside the
    # meta_tenant tag; lets the exporter attribute meetings to the tenant. One tenant's
    # each (the loader refuses a name two tenants claim).
    origin_server_names: Annotated[tuple[OriginServerName, ...], Field(max_length=MAX_ORIGIN_SERVER_NAMES)] = ()
    # its members' e-mail domains: the domains of its organization in the realm (Keycloak
    # routes a sign-in by them; docs/sso.md)
    sso_domains: Annotated[tuple[MailDomain, ...], Field(max_length=MAX_SSO_DOMAINS)] = ()
    timezone: TimeZone | None = None
    # caps that replace the plan's for this tenant only (fleet_tenants.NAME.limits)
    limits: TenantLimits | None = None


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
    url: Annotated[StrictStr, StringConstraints(pattern=r"^https?://[^\s/?#]+(/[^\s]*)?$", max_length=MAX_URL),
                   AfterValidator(check_http_url)]
    username: Annotated[StrictStr, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\s:]+$")] | None = None
    password_variable: Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")] | None = None
    ca_file: Annotated[StrictStr, StringConstraints(min_length=1, max_length=4096),
                       AfterValidator(_single_line)] | None = None


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"not an IP network (CIDR, no host bits set): {exc}") from None
    return value


class Gateway(_Strict):
    """The BBB API gateway members' front ends call (fleet_gateway; docs/gateway.md).

    `url`: its public base URL; a tenant's endpoint is URL/t/TENANT/bigbluebutton/api/.
    Each tenant's secret is the vault variable `vault_gateway_secret_<tenant, - as _>`,
    made by `meetfleet tenant add`. `callback_networks`: the non-public networks where front
    ends may still receive BBB's recording-ready callback through the gateway (a Greenlight
    beside it on a private network); any other loopback, private or link-local target is refused."""

    url: Annotated[StrictStr, StringConstraints(pattern=r"^https?://[^\s/?#]+(/[^\s]*)?$", max_length=MAX_URL),
                   AfterValidator(check_http_url)]
    callback_networks: list[Annotated[StrictStr, StringConstraints(max_length=64), AfterValidator(_network)]] = \
        Field(default_factory=list, max_length=64)

    def endpoint(self, tenant: str) -> str:
        return f"{self.url.rstrip('/')}/t/{tenant}/bigbluebutton/api/"

    @staticmethod
    def secret_variable(tenant: str) -> str:
        return "vault_gateway_secret_" + tenant.replace("-", "_").replace(".", "_")


# Client ids the realm gives the cooperative's own services (docs/sso.md); no tenant's
# sso_client may take one.
NEXTCLOUD_CLIENT_ID = "nextcloud"
SHARED_GREENLIGHT_CLIENT_ID = "shared-greenlight"
RESERVED_CLIENT_IDS: dict[str, str] = {
    NEXTCLOUD_CLIENT_ID: "the realm's Nextcloud client",
    SHARED_GREENLIGHT_CLIENT_ID: "the realm's shared Greenlight client",
}
DEFAULT_PASSWORD_POLICY = "length(12) and notUsername and notEmail"  # noqa: S105 (a policy, not a password)
MAX_PASSWORD_POLICY = 1024


def check_https_site(value: str) -> str:
    """`value` if it is the https URL of a site (check_http_url, https only, no ?query):
    sign-in sends passwords and tokens, never over plain http."""
    check_http_url(value)
    if urlsplit(value).scheme != "https":
        raise ValueError("must be an https:// URL: sign-in sends passwords and tokens")
    if "?" in value:
        raise ValueError("must not have a ?query: it is the base of the site's paths")
    return value


HttpsSiteUrl = Annotated[StrictStr, StringConstraints(max_length=MAX_URL), AfterValidator(check_https_site)]


def _realm_name(value: str) -> str:
    if value == "master":
        raise ValueError("must not be 'master', Keycloak's administration realm: the members' realm is its own")
    return value


# A realm's name: one lowercase DNS label (it is in every URL of the realm).
RealmName = Annotated[StrictStr, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", max_length=63),
                      AfterValidator(_realm_name)]
_POLICY_TERM = re.compile(r"[A-Za-z]+(\(.*\))?")


def _password_policy(value: str) -> str:
    if not all(_POLICY_TERM.fullmatch(term) for term in value.split(" and ")):
        raise ValueError("is not in Keycloak's syntax: policies joined by ' and ', each NAME or NAME(VALUE), "
                         f"e.g. {DEFAULT_PASSWORD_POLICY!r}")
    return value


PasswordPolicy = Annotated[StrictStr, StringConstraints(min_length=1, max_length=MAX_PASSWORD_POLICY),
                           AfterValidator(_single_line), AfterValidator(_password_policy)]
_MAIL_ADDRESS = re.compile(r"[^@\s\x00-\x1f\x7f<>\"]+@[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


def _mail_address(value: str) -> str:
    if not _MAIL_ADDRESS.fullmatch(value):
        raise ValueError("must be a mail address (NAME@DOMAIN, e.g. sso@example.coop)")
    return value


MailAddress = Annotated[StrictStr, StringConstraints(max_length=254), AfterValidator(_mail_address)]


class SsoSmtp(_Strict):
    """The mail server Keycloak sends address checks and password resets through
    (fleet_sso.smtp). The password is never written here: `password_variable` names the
    vault variable that holds it."""

    host: HostName
    port: Annotated[StrictInt, Field(gt=0, le=65535)] = 587
    sender: MailAddress = Field(alias="from")
    starttls: StrictBool = True
    ssl: StrictBool = False
    user: Annotated[StrictStr, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\s]+$")] | None = None
    password_variable: VariableName | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_password_value(cls, data: object) -> object:
        if isinstance(data, dict) and "password" in data:
            raise ValueError("password: never the value here; put it in the vault and name its variable in "
                             "password_variable (e.g. vault_sso_smtp_password)")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> SsoSmtp:
        if self.starttls and self.ssl:
            raise ValueError("starttls and ssl are both true: a mail server speaks one of them on a port "
                             "(ssl: TLS from the start, usually port 465; starttls: usually 587)")
        if (self.user is None) != (self.password_variable is None):
            raise ValueError("user and password_variable go together (a login needs both; neither: no login)")
        return self


class Sso(_Strict):
    """The cooperative's single sign-on: one Keycloak realm (fleet_sso; docs/sso.md).

    Every tenant is an organization of the realm; a tenant with its own Greenlight also has
    its own client (its sso_client, redirecting to its origin_server_names). `nextcloud`:
    the Nextcloud site's URL (default: https:// and the one host of the nextcloud group);
    `shared_greenlight`: the Greenlight members without their own sign in to, if any."""

    realm: RealmName
    display_name: Annotated[StrictStr, StringConstraints(min_length=1, max_length=MAX_DESCRIPTION),
                            AfterValidator(_single_line)]
    public_url: HttpsSiteUrl
    registration_allowed: StrictBool = False
    verify_email: StrictBool = True
    password_policy: PasswordPolicy = DEFAULT_PASSWORD_POLICY
    brute_force_protected: StrictBool = True
    smtp: SsoSmtp | None = None
    nextcloud: HttpsSiteUrl | None = None
    shared_greenlight: HttpsSiteUrl | None = None

    @model_validator(mode="after")
    def _mail_to_verify(self) -> Sso:
        if self.verify_email and self.smtp is None:
            raise ValueError("verify_email is true but there is no smtp: Keycloak cannot send the address check "
                             "(give smtp, or verify_email: false)")
        return self

    def nextcloud_url(self, nextcloud_hosts: Collection[str]) -> str | None:
        """The Nextcloud site's URL: `nextcloud`, else https://HOST of the nextcloud group's
        one host; None with no such host or several (the loader refuses several)."""
        if self.nextcloud is not None:
            return self.nextcloud
        hosts = sorted(set(nextcloud_hosts))
        return f"https://{hosts[0]}" if len(hosts) == 1 else None

    @staticmethod
    def secret_variable(client_id: str) -> str:
        """The vault variable holding client `client_id`'s secret: each character that cannot
        be in a variable's name (-, ., ...) as _."""
        return "vault_sso_client_secret_" + re.sub(r"[^A-Za-z0-9_]", "_", client_id)


class Fleet(_Strict):
    """The whole validated inventory."""

    regions: dict[str, Region]
    plans: dict[str, Plan]
    hosts: dict[str, Host]
    tenants: dict[str, Tenant]
    capacity_source: CapacitySource | None = None
    placement_policy: PlacementPolicy = PlacementPolicy.MOST_SPARE
    gateway: Gateway | None = None
    sso: Sso | None = None

    @property
    def bbb_servers(self) -> dict[str, Host]:
        return {name: host for name, host in self.hosts.items() if host.bbb is not None}

    def tenants_on(self, server: str) -> list[Tenant]:
        return [t for t in self.tenants.values() if t.bbb_server == server]

    def tenant_caps(self, tenant: Tenant) -> tuple[int, int, int]:
        """(max_concurrent_users, max_rooms, max_meeting_minutes): the plan's, each replaced
        by the tenant's own `limits` where it gives one."""
        plan = self.plans[tenant.plan]
        own = tenant.limits or TenantLimits()
        return (own.max_concurrent_users or plan.max_concurrent_users, own.max_rooms or plan.max_rooms,
                own.max_meeting_minutes or plan.max_meeting_minutes)

    def tenant_timezone(self, tenant: Tenant) -> str:
        return tenant.timezone or self.regions[tenant.region].timezone
