"""The exporter's inputs: which servers to poll, their secrets, and how /metrics is served.

Every refusal is a `ConfigError` whose message names the file, the key and what is wrong.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from meetfleet.bbb import BbbEndpoint
from meetfleet.fleet import Fleet, ServerState


class ConfigError(Exception):
    """Bad input: the exporter refuses to start (exit code 2)."""


@dataclass(frozen=True)
class Target:
    """One BBB server the exporter knows about."""

    name: str
    region: str
    state: ServerState
    capacity: int
    endpoint: BbbEndpoint | None  # None for retired servers: they are not polled

    @property
    def polled(self) -> bool:
        return self.endpoint is not None


def _read_yaml(path: Path, what: str) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        # The parser's message can quote the file's content, which here may be a secret.
        raise ConfigError(f"{path}: is not valid YAML{where}") from None


def load_secrets(path: Path) -> dict[str, str]:
    """`bbb_secrets: {HOSTNAME: SECRET}` from a file only its owner can read."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the secrets file: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path}: the secrets file is readable by group or others "
                          f"(mode {stat.S_IMODE(mode):04o}); chmod 600 it")
    data = _read_yaml(path, "secrets file")
    if not isinstance(data, dict) or not isinstance(data.get("bbb_secrets"), dict):
        raise ConfigError(f"{path}: bbb_secrets: must be a mapping of BBB host names to their secrets")
    secrets: dict[str, str] = {}
    for host, secret in data["bbb_secrets"].items():
        if not isinstance(secret, str) or not secret.strip():
            raise ConfigError(f"{path}: bbb_secrets.{host}: must be a non-empty string")
        secrets[str(host)] = secret.strip()
    return secrets


def build_targets(fleet: Fleet, secrets: dict[str, str], secrets_path: Path) -> list[Target]:
    """One target per BBB server; refuses a polled server without a secret."""
    missing = [name for name, host in fleet.bbb_servers.items()
               if host.bbb.state != ServerState.RETIRED and name not in secrets]
    if missing:
        raise ConfigError(f"{secrets_path}: bbb_secrets: no secret for {', '.join(sorted(missing))}")
    targets = []
    for name, host in sorted(fleet.bbb_servers.items()):
        bbb = host.bbb
        endpoint = None
        if bbb.state != ServerState.RETIRED:
            endpoint = BbbEndpoint(api_url=bbb.api_url, secret=secrets[name], algorithm=bbb.checksum_algorithm)
        targets.append(Target(name=name, region=host.region, state=bbb.state, capacity=bbb.capacity,
                              endpoint=endpoint))
    return targets


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BasicAuth(_Strict):
    username: str = Field(min_length=1)
    password_sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="hex sha256 of the password")


class Tls(_Strict):
    cert_file: Path
    key_file: Path


class WebConfig(_Strict):
    basic_auth: BasicAuth | None = None
    tls: Tls | None = None


def load_web_config(path: Path | None) -> WebConfig:
    if path is None:
        return WebConfig()
    data = _read_yaml(path, "web config") or {}
    try:
        config = WebConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(file)"
        message = "is not a known key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigError(f"{path}: {key}: {message}") from None
    if config.tls:
        for key in ("cert_file", "key_file"):
            file = getattr(config.tls, key)
            if not file.is_file():
                raise ConfigError(f"{path}: tls.{key}: {file} does not exist")
    return config


def parse_listen(value: str) -> tuple[str, int]:
    """'HOST:PORT' (HOST may be [v6]) to (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--listen: {value!r} is not HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - listening on all addresses is the default
