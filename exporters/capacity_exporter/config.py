"""The exporter's inputs: which servers to poll, their secrets, and how /metrics is served.

Every refusal is a `ConfigError` whose message names the file, the key and what is wrong,
and never quotes a secrets file (the parser's messages can).
"""

from __future__ import annotations

import hashlib
import os
import re
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from meetfleet.bbb import BbbEndpoint
from meetfleet.fleet import Fleet, ServerState

# Far more than the secrets of thousands of servers or any certificate chain; a log file
# or /dev/zero given by mistake is refused instead of read into memory.
MAX_FILE_BYTES = 1024 * 1024


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


_FILE_TYPES = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a character device",
               stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _FILE_TYPES.items() if test(mode)), "not a file")
    return f"is {kind}, not a regular file"


def _read_file(path: Path, prefix: str, private: bool = False) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES; `private`: refuse it if group or others have access.

    The checks are made on the opened file (fstat), so what is checked is what is read.
    """
    try:
        # Symbolic links are followed (secrets are often mounted as links); a loop fails here.
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"{prefix}: cannot open: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        problem = _not_regular(info.st_mode)
        if problem:
            raise ConfigError(f"{prefix}: {problem}")
        if private and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{prefix}: the secrets file is readable by group or others "
                              f"(mode {stat.S_IMODE(info.st_mode):04o}); chmod 600 it")
        if info.st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{prefix}: is {info.st_size} bytes, more than the {MAX_FILE_BYTES} allowed")
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES:  # the file may grow after fstat: the bound holds anyway
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_FILE_BYTES:
            raise ConfigError(f"{prefix}: is more than the {MAX_FILE_BYTES} bytes allowed")
        return b"".join(chunks)
    except OSError as exc:
        raise ConfigError(f"{prefix}: cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, line: int, first_line: int):
        super().__init__(key)
        self.key, self.line, self.first_line = key, line, first_line


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader refusing duplicate keys: YAML's "the last one wins" would hide a mistake."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first_lines: dict[object, int] = {}
        for key_node, _ in node.value:
            # `<<` merges are meant to be overridden; non-scalar keys are refused by SafeLoader itself.
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in first_lines:
                raise _DuplicateKey(_clip(str(key)), line, first_lines[key])
            first_lines[key] = line
        return super().construct_mapping(node, deep)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _line_of(data: bytes | str, offset: int) -> int:
    return data.count(b"\n" if isinstance(data, bytes) else "\n", 0, offset) + 1


def _read_yaml(path: Path, what: str, private: bool = False) -> object:
    data = _read_file(path, str(path), private)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the {what} is not UTF-8 text (line {_line_of(data, exc.start)})") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise ConfigError(f"{path}: {exc.key}: duplicate key at line {exc.line} "
                          f"(first at line {exc.first_line})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1})"
        elif isinstance(getattr(exc, "position", None), int):  # ReaderError: a control character
            where = f" (line {_line_of(text, exc.position)})"
        else:
            where = ""
        # The parser's message can quote the file's content, which here may be a secret.
        raise ConfigError(f"{path}: the {what} is not valid YAML{where}") from None
    except RecursionError:
        raise ConfigError(f"{path}: the {what} nests too deeply to be read") from None


def load_secrets(path: Path) -> dict[str, str]:
    """`bbb_secrets: {HOSTNAME: SECRET}` from a file only its owner can read."""
    data = _read_yaml(path, "secrets file", private=True)
    if not isinstance(data, dict) or not isinstance(data.get("bbb_secrets"), dict):
        raise ConfigError(f"{path}: bbb_secrets: must be a mapping of BBB host names to their secrets")
    secrets: dict[str, str] = {}
    for host, secret in data["bbb_secrets"].items():
        name = _clip(str(host))
        if not isinstance(host, str):
            raise ConfigError(f"{path}: bbb_secrets.{name}: the key must be a host name")
        if not isinstance(secret, str) or not secret.strip():
            # Not the value's type name: a YAML number or date is still the secret's text.
            raise ConfigError(f"{path}: bbb_secrets.{name}: must be a non-empty string (quote it)")
        secrets[host] = secret.strip()
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


_EMPTY_PASSWORD_SHA256 = hashlib.sha256(b"").hexdigest()


class BasicAuth(_Strict):
    username: str = Field(min_length=1)
    password_sha256: str = Field(description="hex sha256 of the password")

    @field_validator("username")
    @classmethod
    def _no_colon(cls, value: str) -> str:
        # Basic auth sends "user:password" and splits at the first colon: such a user never matches.
        if ":" in value:
            raise ValueError("must not contain ':'")
        return value

    @field_validator("password_sha256")
    @classmethod
    def _hex_sha256(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
            raise ValueError("must be the hex sha256 of the password, 64 hex digits "
                             "(printf %s \"$PASSWORD\" | sha256sum)")
        if value.lower() == _EMPTY_PASSWORD_SHA256:
            raise ValueError("is the sha256 of an empty password")
        return value


class Tls(_Strict):
    cert_file: Path
    key_file: Path


class _EncryptedKey(Exception):
    pass


def _no_passphrase() -> bytes:
    raise _EncryptedKey  # OpenSSL would otherwise prompt on the terminal and wait


def tls_context(tls: Tls, source: str) -> ssl.SSLContext:
    """A server context for `tls`, every problem a ConfigError naming `source` and the key."""
    pem = {}
    for key in ("cert_file", "key_file"):
        file = getattr(tls, key)
        if not file.exists():
            raise ConfigError(f"{source}: tls.{key}: {file} does not exist")
        pem[key] = _read_file(file, f"{source}: tls.{key}: {file}")
    cert, key = tls.cert_file, tls.key_file
    if b"-----BEGIN CERTIFICATE-----" not in pem["cert_file"]:
        raise ConfigError(f"{source}: tls.cert_file: {cert} holds no PEM certificate "
                          "(a DER file? openssl x509 -inform der converts it)")
    if b"ENCRYPTED" in pem["key_file"]:  # "BEGIN ENCRYPTED PRIVATE KEY" or "Proc-Type: 4,ENCRYPTED"
        raise ConfigError(f"{source}: tls.key_file: {key} is encrypted; the exporter cannot ask for a passphrase")
    if not re.search(rb"-----BEGIN (?:RSA |EC |DSA )?PRIVATE KEY-----", pem["key_file"]):
        raise ConfigError(f"{source}: tls.key_file: {key} holds no PEM private key")
    try:
        # Parsing the certificate alone first tells a broken certificate from a broken key.
        ssl.create_default_context().load_verify_locations(cafile=cert)
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(f"{source}: tls.cert_file: {cert} is not a valid certificate "
                          f"({getattr(exc, 'reason', None) or exc})") from None
    except OSError as exc:
        raise ConfigError(f"{source}: tls.cert_file: {cert}: cannot read: {exc.strerror}") from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key, password=_no_passphrase)
    except _EncryptedKey:
        raise ConfigError(f"{source}: tls.key_file: {key} is encrypted; "
                          "the exporter cannot ask for a passphrase") from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise ConfigError(f"{source}: tls.key_file: {key} is not the key of the certificate "
                              f"in tls.cert_file ({cert})") from None
        raise ConfigError(f"{source}: tls.key_file: {key} is not a valid private key "
                          f"({exc.reason or exc})") from None
    except OSError as exc:
        raise ConfigError(f"{source}: tls: cannot read {cert} or {key}: {exc.strerror}") from None
    return context


class WebConfig(_Strict):
    basic_auth: BasicAuth | None = None
    tls: Tls | None = None
    _context: ssl.SSLContext | None = PrivateAttr(default=None)

    def server_context(self, source: str = "web config") -> ssl.SSLContext | None:
        """The TLS server context (None without tls), loaded once; ConfigError if it cannot be."""
        if self.tls is not None and self._context is None:
            self._context = tls_context(self.tls, source)
        return self._context


def load_web_config(path: Path | None) -> WebConfig:
    if path is None:
        return WebConfig()
    data = _read_yaml(path, "web config")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping with basic_auth and/or tls")
    try:
        config = WebConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(_clip(str(p)) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            message = "is not a known key"
            if key == "basic_auth.password":
                message += "; give password_sha256, the hex sha256 of the password"
        else:
            message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{path}: {key}: {message}") from None
    config.server_context(str(path))  # certificate and key problems refused now, by key
    return config


MAX_SHARDS = 1000


def parse_shard(value: str) -> tuple[int, int]:
    """'I/N' (the I-th of N shards, from 0) to (I, N)."""
    index, sep, count = value.partition("/")
    if not (sep and index.isascii() and index.isdigit() and count.isascii() and count.isdigit()):
        raise ConfigError(f"--shard: {value[:40]!r} is not I/N (e.g. 0/2, the first of two shards)")
    i, n = int(index), int(count)
    if not 1 <= n <= MAX_SHARDS:
        raise ConfigError(f"--shard: {value!r}: N must be from 1 to {MAX_SHARDS}")
    if i >= n:
        raise ConfigError(f"--shard: {value!r}: I must be from 0 to {n - 1} (shards count from 0)")
    return i, n


def shard_of(name: str, count: int) -> int:
    """The shard a server (or tenant) name belongs to: sha256 of the name, its first 8 bytes
    as a big-endian number, modulo the number of shards. The same on every host and release."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") % count


def shard_fleet(fleet: Fleet, targets: list[Target], index: int, count: int) -> tuple[list[Target], list[str]]:
    """The servers and the tenants shard `index` of `count` reports: each server in exactly
    one shard; each tenant in the shard of its assigned server (of its own name without one)."""
    mine = [t for t in targets if shard_of(t.name, count) == index]
    tenants = [name for name, tenant in fleet.tenants.items()
               if shard_of(tenant.bbb_server or name, count) == index]
    return mine, sorted(tenants)


def parse_listen(value: str) -> tuple[str, int]:
    """'HOST:PORT' (HOST may be [v6]) to (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--listen: {value!r} is not HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - listening on all addresses is the default
