"""The export archive of one member organisation: a gzip-compressed tar.

    manifest.json      format, version, tenant, source inventory, time, what is included
                       and what is not (and why)
    tenant.json        the tenant's record (every field but its placement) and its plan's
                       definition
    recordings.json    (version 2, `--with-data`) its recordings as its gateway endpoint
                       lists them: ids, name, state, times, playback URLs
    greenlight.pgdump  (version 2, `--with-data`, a tenant with its own Greenlight) its
                       instance's database, pg_dump's custom format (pg_restore reads it)

Why a tar.gz rather than one JSON document: the dump is binary and large, and belongs in
its own member, not base64 inside a JSON string. JSON inside (not YAML): no tags, no
aliases, one obvious parse.

Parsing is strict, for an archive may come from another cooperative: only these regular
files (no directory, link or device; names compared as written, so no path ever reaches the
file system: nothing is extracted), each within its bound (MAX_BYTES), JSON without
duplicate keys or NaN, no unknown key anywhere, a known format version, values checked by
the fleet model (fleet/model.py) as the inventory's are, and a dump that starts as
pg_dump's custom format does.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from meetfleet.fleet.model import Fleet, Plan, Tenant

FORMAT = "meetfleet-tenant-export"
VERSION = 2
READS_VERSIONS = (1, 2)  # version 1: manifest and tenant only
MANIFEST, TENANT = "manifest.json", "tenant.json"
RECORDINGS, GREENLIGHT_DUMP = "recordings.json", "greenlight.pgdump"
MEMBERS = (MANIFEST, TENANT)  # in every archive
DATA_MEMBERS = (RECORDINGS, GREENLIGHT_DUMP)  # version 2, when exported
MAX_MEMBER_BYTES = 64 * 1024  # a record and a plan are a few hundred bytes
MAX_BYTES = {MANIFEST: MAX_MEMBER_BYTES, TENANT: MAX_MEMBER_BYTES,
             RECORDINGS: 16 * 1024 * 1024,  # ~50,000 recordings
             GREENLIGHT_DUMP: 256 * 1024 * 1024}  # users, rooms and settings; uploads are not in it
MAX_ARCHIVE_BYTES = sum(MAX_BYTES.values())  # compressed; read_archive refuses a bigger file unread
PGDUMP_MAGIC = b"PGDMP"  # how pg_dump's custom format begins

# The tenant's record as exported: fleet_tenants.NAME without bbb_server (the importing
# fleet's placement decides where it runs).
RECORD_FIELDS = ("plan", "region", "timezone", "sso_client", "sso_domains", "origin_server_names", "limits",
                 "greenlight")

# What the archive does not hold, and why: said in every manifest, so an importing
# cooperative knows what to carry over by other means.
NOT_INCLUDED = {
    "greenlight_database": "not asked for: `--with-data` dumps its own Greenlight's database",
    "recordings": "not asked for: `--with-data` lists its recordings (the files stay on the BBB servers)",
    "greenlight_uploads": "never in the archive: presentations and avatars live in its Greenlight's storage "
                          "directory; copy it with the database if the member needs them",
    "secrets": "never exported: the importing fleet makes its own (a new gateway secret when it has "
               "fleet_gateway), so no secret travels in a file",
    "bbb_server": "not exported: the importing fleet places the member on its own servers",
    "sso_client_secret": "never exported: the SSO client (Keycloak) is the importing fleet's to create",
}
INCLUDED = {TENANT: "the tenant's record (" + ", ".join(RECORD_FIELDS) + ") and its plan's definition"}
DATA_INCLUDED = {RECORDINGS: "its recordings as its gateway endpoint lists them (ids, name, state, times, "
                             "playback URLs); the recordings themselves stay on the BBB servers",
                 GREENLIGHT_DUMP: "its own Greenlight's database (users, rooms, settings) as pg_dump's custom "
                                  "format: `pg_restore --no-owner -d DATABASE greenlight.pgdump`"}
DATA_KEYS = {RECORDINGS: "recordings", GREENLIGHT_DUMP: "greenlight_database"}  # their not_included names


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Playback(_Strict):
    format: StrictStr = Field(max_length=64)
    url: StrictStr = Field(max_length=2048)


class Recording(_Strict):
    """One recording as the archive lists it (from getRecordings' <recording>)."""

    record_id: StrictStr = Field(max_length=255)
    meeting_id: StrictStr = Field(max_length=255)
    name: StrictStr = Field(max_length=1024)
    state: StrictStr = Field(max_length=64)
    published: StrictBool
    start_time: StrictInt | None = None  # milliseconds since the epoch, as BBB gives it
    end_time: StrictInt | None = None
    playback: tuple[Playback, ...] = Field(default=(), max_length=16)


class ArchiveError(ValueError):
    """The bytes are not an archive this version can import (the message says why)."""


@dataclass(frozen=True)
class Export:
    """One member as exported: its record (a Tenant without placement) and its plan."""

    tenant: Tenant  # bbb_server always None
    plan: Plan
    source_inventory: str
    created: str  # ISO 8601, UTC
    recordings: tuple[Recording, ...] | None = None  # None: not exported
    greenlight_dump: bytes | None = None
    # why a data member is absent, by its not_included name, where it is not "not asked for"
    absent: tuple[tuple[str, str], ...] = ()

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


def data_members(export: Export) -> dict[str, bytes]:
    """The data members the export carries, as the archive stores them."""
    members = {}
    if export.recordings is not None:
        document = {"recordings": [r.model_dump() for r in export.recordings]}
        members[RECORDINGS] = (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    if export.greenlight_dump is not None:
        members[GREENLIGHT_DUMP] = export.greenlight_dump
    return members


def manifest(export: Export) -> dict[str, Any]:
    present = data_members(export)
    not_included = {key: why for key, why in NOT_INCLUDED.items()
                    if key not in {DATA_KEYS[name] for name in present}}
    not_included.update((key, why) for key, why in export.absent if key in not_included)
    return {"format": FORMAT, "version": VERSION, "tenant": export.tenant.name,
            "source_inventory": export.source_inventory, "created": export.created,
            "included": {**INCLUDED, **{name: DATA_INCLUDED[name] for name in present}},
            "not_included": not_included}


def tenant_document(export: Export) -> dict[str, Any]:
    return {"name": export.tenant.name, "record": export.record(),
            "plan": export.plan.model_dump(exclude={"name"}) | {"name": export.plan.name}}


def build_archive(export: Export) -> bytes:
    """The archive's bytes: the same export gives the same bytes (fixed times and owners)."""
    when = int(datetime.strptime(export.created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        documents = {name: (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
                     for name, document in ((MANIFEST, manifest(export)), (TENANT, tenant_document(export)))}
        for name, data in {**documents, **data_members(export)}.items():
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
                if info.name not in MAX_BYTES:
                    raise ArchiveError(f"unexpected file {info.name[:80]!r} in the archive "
                                       f"(it holds only {', '.join(MAX_BYTES)})")
                if not info.isreg():
                    raise ArchiveError(f"{info.name} is not a regular file")
                if info.name in found:
                    raise ArchiveError(f"{info.name} is in the archive twice")
                bound = MAX_BYTES[info.name]
                if info.size > bound:
                    raise ArchiveError(f"{info.name} is {info.size} bytes (at most {bound})")
                extracted = tar.extractfile(info)
                assert extracted is not None  # a regular file
                found[info.name] = extracted.read(bound + 1)
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
    if type(head["version"]) is not int or head["version"] not in READS_VERSIONS:
        raise ArchiveError(f"{MANIFEST}: version {str(head['version'])[:20]} is not one this meetfleet reads "
                           f"({', '.join(map(str, READS_VERSIONS))})")
    if head["version"] == 1 and set(members) - set(MEMBERS):
        raise ArchiveError(f"{MANIFEST}: a version 1 archive holds only {' and '.join(MEMBERS)}")
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
    return Export(tenant, parsed_plan, head["source_inventory"], head["created"],
                  recordings=_recordings(members[RECORDINGS]) if RECORDINGS in members else None,
                  greenlight_dump=_dump(members[GREENLIGHT_DUMP]) if GREENLIGHT_DUMP in members else None)


def _recordings(data: bytes) -> tuple[Recording, ...]:
    document = _json(RECORDINGS, data)
    _keys(RECORDINGS, document, {"recordings"})
    if not isinstance(document["recordings"], list):
        raise ArchiveError(f"{RECORDINGS}: recordings must be a list")
    return tuple(_model(f"{RECORDINGS} recordings.{index}", Recording, item if isinstance(item, dict) else {})
                 for index, item in enumerate(document["recordings"]))


def _dump(data: bytes) -> bytes:
    if not data.startswith(PGDUMP_MAGIC):
        raise ArchiveError(f"{GREENLIGHT_DUMP} is not a pg_dump archive in custom format (it must begin with "
                           f"{PGDUMP_MAGIC.decode()})")
    return data
