"""The export archive of one member organisation: a gzip-compressed tar of two JSON files.

    manifest.json  format, version, tenant, source inventory, time, what is included and
                   what is not (and why)
    tenant.json    the tenant's record (every field but its placement) and its plan's definition

Why a tar.gz rather than one JSON document: the archive is meant to carry the member's
Greenlight database dump and its recordings list next to the record once they exist; a
dump is binary and large, and belongs in its own member, not base64 inside a JSON string.
JSON inside (not YAML): no tags, no aliases, one obvious parse.

Parsing is strict, for an archive may come from another cooperative: exactly these two
regular files (no directory, link or device; names compared as written, so no path ever
reaches the file system: nothing is extracted), each at most MAX_MEMBER_BYTES, JSON without
duplicate keys or NaN, no unknown key anywhere, a known format version, and values checked by
the fleet model (fleet/model.py) as the inventory's are.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from meetfleet.fleet.model import Fleet, Plan, Tenant

FORMAT = "meetfleet-tenant-export"
VERSION = 1
MANIFEST, TENANT = "manifest.json", "tenant.json"
MEMBERS = (MANIFEST, TENANT)
MAX_MEMBER_BYTES = 64 * 1024  # a record and a plan are a few hundred bytes
MAX_ARCHIVE_BYTES = 1024 * 1024  # compressed; read_archive refuses a bigger file unread

# The tenant's record as exported: fleet_tenants.NAME without bbb_server (the importing
# fleet's placement decides where it runs).
RECORD_FIELDS = ("plan", "region", "timezone", "sso_client", "sso_domains", "origin_server_names", "limits",
                 "greenlight")

# What the archive does not hold, and why: said in every manifest, so an importing
# cooperative knows what to carry over by other means.
NOT_INCLUDED = {
    "greenlight_database": "not exported yet: no Greenlight role exists in this fleet, so there is no "
                           "database of the member's to dump (rooms, users, settings)",
    "recordings": "not exported yet: the export reads the inventory only and asks no BBB server "
                  "(BbbClient.get_recordings can list them; the export does not call it yet)",
    "secrets": "never exported: the importing fleet makes its own (a new gateway secret when it has "
               "fleet_gateway), so no secret travels in a file",
    "bbb_server": "not exported: the importing fleet places the member on its own servers",
    "sso_client_secret": "never exported: the SSO client (Keycloak) is the importing fleet's to create",
}
INCLUDED = {TENANT: "the tenant's record (" + ", ".join(RECORD_FIELDS) + ") and its plan's definition"}


class ArchiveError(ValueError):
    """The bytes are not an archive this version can import (the message says why)."""


@dataclass(frozen=True)
class Export:
    """One member as exported: its record (a Tenant without placement) and its plan."""

    tenant: Tenant  # bbb_server always None
    plan: Plan
    source_inventory: str
    created: str  # ISO 8601, UTC

    def record(self) -> dict[str, Any]:
        """The exported fields that are set, as fleet_tenants writes them (lists, plain dicts)."""
        out: dict[str, Any] = {}
        for key in RECORD_FIELDS:
            value = getattr(self.tenant, key)
            if key in ("origin_server_names", "sso_domains"):
                value = list(value) or None
            elif key == "limits" and value is not None:
                value = value.model_dump(exclude_none=True) or None
            if value is not None:
                out[key] = value
        return out


def export_of(fleet: Fleet, name: str, source_inventory: str, now: datetime | None = None) -> Export:
    """The export of tenant `name` of `fleet` (KeyError if there is none)."""
    tenant = fleet.tenants[name].model_copy(update={"bbb_server": None})
    created = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Export(tenant, fleet.plans[tenant.plan], source_inventory, created)


def manifest(export: Export) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "tenant": export.tenant.name,
            "source_inventory": export.source_inventory, "created": export.created,
            "included": INCLUDED, "not_included": NOT_INCLUDED}


def tenant_document(export: Export) -> dict[str, Any]:
    return {"name": export.tenant.name, "record": export.record(),
            "plan": export.plan.model_dump(exclude={"name"}) | {"name": export.plan.name}}


def build_archive(export: Export) -> bytes:
    """The archive's bytes: the same export gives the same bytes (fixed times and owners)."""
    when = int(datetime.strptime(export.created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, document in ((MANIFEST, manifest(export)), (TENANT, tenant_document(export))):
            data = (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), when, 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=when)


# --- parsing ------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ArchiveError(f"duplicate key {next(k for k in keys if keys.count(k) > 1)!r}")
    return dict(pairs)


def _refuse_constant(name: str) -> Any:
    raise ArchiveError(f"{name} is not a value JSON allows")


def _json(name: str, data: bytes) -> dict[str, Any]:
    try:
        document = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates,
                              parse_constant=_refuse_constant)
    except ArchiveError as exc:
        raise ArchiveError(f"{name}: {exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchiveError(f"{name} is not JSON in UTF-8: {exc}") from None
    if not isinstance(document, dict):
        raise ArchiveError(f"{name} must be a JSON object")
    return document


def _keys(where: str, document: dict[str, Any], required: set[str], optional: set[str] = frozenset()) -> None:
    unknown = sorted(set(document) - required - optional)
    if unknown:
        raise ArchiveError(f"{where}: unknown key {unknown[0]!r} (this version knows: "
                           f"{', '.join(sorted(required | optional))})")
    missing = sorted(required - set(document))
    if missing:
        raise ArchiveError(f"{where}: missing key {missing[0]!r}")


def _members(data: bytes) -> dict[str, bytes]:
    """The archive's files by name, read in memory, each bounded; anything else refused."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            while (info := tar.next()) is not None:
                if info.name not in MEMBERS:
                    raise ArchiveError(f"unexpected file {info.name[:80]!r} in the archive "
                                       f"(it holds only {' and '.join(MEMBERS)})")
                if not info.isreg():
                    raise ArchiveError(f"{info.name} is not a regular file")
                if info.name in found:
                    raise ArchiveError(f"{info.name} is in the archive twice")
                if info.size > MAX_MEMBER_BYTES:
                    raise ArchiveError(f"{info.name} is {info.size} bytes (at most {MAX_MEMBER_BYTES})")
                extracted = tar.extractfile(info)
                assert extracted is not None  # a regular file
                found[info.name] = extracted.read(MAX_MEMBER_BYTES + 1)
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as exc:
        raise ArchiveError(f"not a gzip-compressed tar archive ({type(exc).__name__}: {exc})") from None
    for name in MEMBERS:
        if name not in found:
            raise ArchiveError(f"{name} is missing from the archive")
    return found


def _model(where: str, model: type, values: dict[str, Any]) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        at = ".".join(str(p) for p in first["loc"])
        raise ArchiveError(f"{where}{'.' + at if at else ''}: {first['msg']}") from None


def parse_archive(data: bytes) -> Export:
    """The export in `data`, checked strictly; ArchiveError says what is wrong."""
    members = _members(data)
    head = _json(MANIFEST, members[MANIFEST])
    _keys(MANIFEST, head, {"format", "version", "tenant", "source_inventory", "created", "included",
                           "not_included"})
    if head["format"] != FORMAT:
        raise ArchiveError(f"{MANIFEST}: format {str(head['format'])[:80]!r} is not {FORMAT!r}")
    if type(head["version"]) is not int or head["version"] != VERSION:
        raise ArchiveError(f"{MANIFEST}: version {str(head['version'])[:20]} is not one this meetfleet reads "
                           f"({VERSION})")
    for key in ("source_inventory", "created"):
        if not isinstance(head[key], str) or len(head[key]) > 255:
            raise ArchiveError(f"{MANIFEST}: {key} must be a string of at most 255 characters")
    try:
        datetime.strptime(head["created"], "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise ArchiveError(f"{MANIFEST}: created must be a UTC time as YYYY-MM-DDTHH:MM:SSZ") from None
    for key in ("included", "not_included"):
        value = head[key]
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ArchiveError(f"{MANIFEST}: {key} must map names to explanations")
    body = _json(TENANT, members[TENANT])
    _keys(TENANT, body, {"name", "record", "plan"})
    if body["name"] != head["tenant"]:
        raise ArchiveError(f"{TENANT}: name {str(body['name'])[:80]!r} is not the manifest's tenant "
                           f"{str(head['tenant'])[:80]!r}")
    record, plan = body["record"], body["plan"]
    if not isinstance(record, dict) or not isinstance(plan, dict):
        raise ArchiveError(f"{TENANT}: record and plan must be objects")
    _keys(f"{TENANT} record", record, {"plan", "region"}, set(RECORD_FIELDS))
    tenant = _model(f"{TENANT} record", Tenant, {"name": body["name"], **record})
    parsed_plan = _model(f"{TENANT} plan", Plan, plan)
    if parsed_plan.name != tenant.plan:
        raise ArchiveError(f"{TENANT}: the plan defined ({parsed_plan.name!r}) is not the record's ({tenant.plan!r})")
    return Export(tenant, parsed_plan, head["source_inventory"], head["created"])
