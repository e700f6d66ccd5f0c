"""The gateway's inputs: tenants and servers from the inventory, secrets from a 0600 file.

Secrets file (rendered from the vault by the deploying role)::

    tenant_secrets: {TENANT: SECRET}   # what each member's Greenlight signs with
    bbb_secrets: {HOSTNAME: SECRET}    # what the gateway signs with upstream

Every refusal is a ConfigError whose message names the file and the key, never a secret.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import yaml

from meetfleet.bbb import BbbEndpoint
from meetfleet.fleet import Fleet, ServerState

MAX_FILE_BYTES = 1024 * 1024
MIN_SECRET_LENGTH = 16


class ConfigError(Exception):
    """Bad input: the gateway refuses to start (exit code 2)."""


@dataclass(frozen=True)
class ServerConfig:
    name: str
    region: str
    state: ServerState
    capacity: int
    endpoint: BbbEndpoint = field(repr=False)


@dataclass(frozen=True)
class TenantConfig:
    name: str
    region: str
    home: str | None  # its bbb_server
    max_users: int
    max_rooms: int
    max_minutes: int
    secret: str = field(repr=False)

    @property
    def prefix(self) -> str:
        """What the gateway puts before the tenant's meetingIDs upstream: two tenants may
        choose the same meetingID, BBB must see two meetings."""
        return f"{self.name}~"


@dataclass(frozen=True)
class GatewayConfig:
    tenants: dict[str, TenantConfig]
    servers: dict[str, ServerConfig]
    public_url: str | None = None  # fleet_gateway.url: where BBB's callbacks reach the gateway
    callback_networks: tuple[str, ...] = ()  # fleet_gateway.callback_networks: non-public targets allowed


def read_private_file(path: Path) -> bytes:
    """A regular file of at most MAX_FILE_BYTES that only its owner can read (checked on the opened file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{path}: is not a regular file")
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{path}: the secrets file is readable by group or others "
                              f"(mode {stat.S_IMODE(info.st_mode):04o}); chmod 600 it")
        data = os.read(fd, MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ConfigError(f"{path}: is more than the {MAX_FILE_BYTES} bytes allowed")
        return data
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _secrets_map(path: Path, data: dict, key: str) -> dict[str, str]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {key}: must be a mapping of names to secrets")
    result = {}
    for name, secret in value.items():
        shown = _clip(str(name))
        if not isinstance(name, str):
            raise ConfigError(f"{path}: {key}.{shown}: the key must be a name")
        if not isinstance(secret, str) or not secret.strip():
            raise ConfigError(f"{path}: {key}.{shown}: must be a non-empty string (quote it)")
        result[name] = secret.strip()
    return result


class Secrets(NamedTuple):
    """What the secrets file holds."""

    tenants: dict[str, str]  # tenant: its gateway secret
    servers: dict[str, str]  # BBB host: its API secret
    redis_password: str | None  # the password of --redis's user; None: connect without one


SECRETS_KEYS = ("tenant_secrets", "bbb_secrets", "redis_password")


def load_secrets(path: Path) -> Secrets:
    """The secrets file (mode 0600): tenant_secrets, bbb_secrets and, optionally, redis_password."""
    raw = read_private_file(path)
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        # the parser's message may quote the file, i.e. a secret
        raise ConfigError(f"{path}: the secrets file is not valid UTF-8 YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping with tenant_secrets and bbb_secrets")
    unknown = sorted(str(k) for k in data if k not in SECRETS_KEYS)
    if unknown:
        raise ConfigError(f"{path}: {_clip(', '.join(unknown))}: unknown keys ({', '.join(SECRETS_KEYS)})")
    redis_password = data.get("redis_password")
    if redis_password is not None and (not isinstance(redis_password, str) or not redis_password.strip()):
        raise ConfigError(f"{path}: redis_password: must be a non-empty string (quote it)")
    return Secrets(_secrets_map(path, data, "tenant_secrets"), _secrets_map(path, data, "bbb_secrets"),
                   redis_password.strip() if redis_password else None)


def build_config(fleet: Fleet, tenant_secrets: dict[str, str], bbb_secrets: dict[str, str],
                 secrets_path: Path) -> GatewayConfig:
    servers = {}
    for name, host in sorted(fleet.bbb_servers.items()):
        bbb = host.bbb
        if bbb.state == ServerState.RETIRED:
            continue
        if name not in bbb_secrets:
            raise ConfigError(f"{secrets_path}: bbb_secrets: no secret for {name}")
        servers[name] = ServerConfig(name, host.region, bbb.state, bbb.capacity,
                                     BbbEndpoint(bbb.api_url, bbb_secrets[name], bbb.checksum_algorithm))
    unknown = sorted(set(tenant_secrets) - set(fleet.tenants))
    if unknown:
        raise ConfigError(f"{secrets_path}: tenant_secrets: {_clip(', '.join(unknown))}: not tenants of the inventory")
    server_secrets = set(bbb_secrets.values())
    seen: dict[str, str] = {}
    tenants = {}
    for name, secret in sorted(tenant_secrets.items()):
        if len(secret) < MIN_SECRET_LENGTH:
            raise ConfigError(f"{secrets_path}: tenant_secrets.{name}: shorter than {MIN_SECRET_LENGTH} characters")
        if secret in server_secrets:
            raise ConfigError(f"{secrets_path}: tenant_secrets.{name}: is a BBB server's secret; "
                              "a tenant must have its own")
        if secret in seen:
            raise ConfigError(f"{secrets_path}: tenant_secrets.{name}: is also {seen[secret]}'s secret")
        seen[secret] = name
        tenant = fleet.tenants[name]
        users, rooms, minutes = fleet.tenant_caps(tenant)
        tenants[name] = TenantConfig(name, tenant.region, tenant.bbb_server, users, rooms, minutes, secret)
    if not tenants:
        raise ConfigError(f"{secrets_path}: tenant_secrets: no tenant has a secret "
                          "(the gateway would refuse every call)")
    gateway = fleet.gateway
    return GatewayConfig(tenants, servers, gateway.url if gateway else None,
                         tuple(gateway.callback_networks) if gateway else ())


def parse_listen(value: str, option: str = "--listen") -> tuple[str, int]:
    """'HOST:PORT' (HOST may be [v6]) to (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{option}: {value!r} is not HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)
