"""The export archive's format: what build writes, parse reads back; hostile archives refused."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from meetfleet.fleet import load_inventory
from meetfleet.membership import ArchiveError, build_archive, export_of, parse_archive, read_archive, write_archive
from meetfleet.membership.archive import MAX_ARCHIVE_BYTES, MAX_MEMBER_BYTES, Playback, Recording
from tests.conftest import EXAMPLE_INVENTORY


def _export(name: str = "bakery-collective"):
    return export_of(load_inventory(EXAMPLE_INVENTORY), name, "example")


def _members(data: bytes) -> dict[str, dict]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {n: json.loads(tar.extractfile(n).read()) for n in tar.getnames()}


def _pack(files: dict[str, bytes], kinds: dict[str, bytes] | None = None) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, kind in (kinds or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "/etc/passwd"
            tar.addfile(info)
    return gzip.compress(raw.getvalue())


def _with(change) -> bytes:
    docs = _members(build_archive(_export()))
    change(docs)
    return _pack({n: json.dumps(d).encode() for n, d in docs.items()})


def test_every_example_tenant_round_trips() -> None:
    for name in load_inventory(EXAMPLE_INVENTORY).tenants:
        export = _export(name)
        assert parse_archive(build_archive(export)) == export
        assert export.tenant.bbb_server is None


def test_the_same_export_gives_the_same_bytes() -> None:
    export = _export()
    assert build_archive(export) == build_archive(export)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["manifest.json"].update(version=3), "version 3"),
    (lambda d: d["manifest.json"].update(version=True), "version True"),
    (lambda d: d["manifest.json"].update(format="other"), "format"),
    (lambda d: d["manifest.json"].update(extra=1), "unknown key 'extra'"),
    (lambda d: d["tenant.json"]["record"].update(bbb_server="bbb-eu-1.example.coop"), "unknown key 'bbb_server'"),
    (lambda d: d["tenant.json"]["record"].update(gateway_secret="x"), "unknown key 'gateway_secret'"),
    (lambda d: d["tenant.json"]["record"].update(timezone="../../etc/passwd"), "record.timezone"),
    (lambda d: d["tenant.json"]["plan"].update(max_rooms="5"), "plan.max_rooms"),
    (lambda d: d["tenant.json"].update(name="someone-else"), "not the manifest's tenant"),
    (lambda d: d["tenant.json"]["plan"].update(name="large"), "not the record's"),
    (lambda d: d["tenant.json"]["record"].pop("region"), "missing key 'region'"),
])
def test_a_changed_document_is_refused(change, message: str) -> None:
    with pytest.raises(ArchiveError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_archive(_with(change))


def test_duplicate_keys_and_nan_are_refused() -> None:
    docs = {n: json.dumps(d) for n, d in _members(build_archive(_export())).items()}
    duplicated = docs["manifest.json"].replace('"version": 2', '"version": 2, "version": 2')
    with pytest.raises(ArchiveError, match="duplicate key"):
        parse_archive(_pack({"manifest.json": duplicated.encode(), "tenant.json": docs["tenant.json"].encode()}))
    nan = docs["tenant.json"].replace('"max_rooms": 5', '"max_rooms": NaN')
    with pytest.raises(ArchiveError, match="NaN"):
        parse_archive(_pack({"manifest.json": docs["manifest.json"].encode(), "tenant.json": nan.encode()}))


@pytest.mark.parametrize("name", ["../manifest.json", "/etc/cron.d/x", "dir/tenant.json", "extra.json"])
def test_no_other_path_is_accepted(name: str) -> None:
    docs = _members(build_archive(_export()))
    files = {n: json.dumps(d).encode() for n, d in docs.items()} | {name: b"{}"}
    with pytest.raises(ArchiveError, match="unexpected file"):
        parse_archive(_pack(files))


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.DIRTYPE])
def test_links_devices_and_directories_are_refused(kind: bytes) -> None:
    with pytest.raises(ArchiveError, match="not a regular file"):
        parse_archive(_pack({}, {"manifest.json": kind}))


def test_a_member_too_big_is_refused_before_it_is_read() -> None:
    with pytest.raises(ArchiveError, match="at most"):
        parse_archive(_pack({"manifest.json": b" " * (MAX_MEMBER_BYTES + 1)}))


def test_a_missing_member_and_garbage_are_refused() -> None:
    docs = _members(build_archive(_export()))
    with pytest.raises(ArchiveError, match=r"tenant\.json is missing"):
        parse_archive(_pack({"manifest.json": json.dumps(docs["manifest.json"]).encode()}))
    with pytest.raises(ArchiveError, match="not a gzip-compressed tar"):
        parse_archive(b"\x1f\x8b garbage")


def test_read_refuses_a_fifo_and_a_big_file_unread(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ArchiveError, match="not a regular file"):
        read_archive(fifo)
    big = tmp_path / "big.tar.gz"
    with big.open("wb") as sparse:
        sparse.truncate(MAX_ARCHIVE_BYTES + 1)
    with pytest.raises(ArchiveError, match="bigger than"):
        read_archive(big)


def test_write_never_replaces_a_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "a.tar.gz"
    write_archive(path, b"first")
    with pytest.raises(FileExistsError):
        write_archive(path, b"second")
    assert path.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["a.tar.gz"]
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_members_mail_domains_travel_with_it() -> None:
    # sso_domains become its Keycloak organization's domains in the importing fleet.
    export = _export()
    tenant = export.tenant.model_copy(update={"sso_domains": ("bakery.example.org", "backstube.example.de")})
    moved = parse_archive(build_archive(replace(export, tenant=tenant)))
    assert moved.tenant.sso_domains == ("bakery.example.org", "backstube.example.de")
    assert moved.record()["sso_domains"] == ["bakery.example.org", "backstube.example.de"]


RECORDING = Recording(record_id="a1b2" * 10 + "-1700000000000", meeting_id="bakery-weekly", name="Weekly",
                      state="published", published=True, start_time=1_700_000_000_000, end_time=1_700_003_600_000,
                      playback=(Playback(format="presentation", url="https://bbb-eu-1.example.coop/playback/x"),))
DUMP = b"PGDMP\x01\x0e\x00" + bytes(range(256)) * 40  # binary, as pg_dump's custom format is


def test_the_data_members_round_trip_and_the_manifest_says_what_they_are() -> None:
    export = replace(_export(), recordings=(RECORDING,), greenlight_dump=DUMP)
    data = build_archive(export)
    assert parse_archive(data) == export
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["greenlight.pgdump", "manifest.json", "recordings.json", "tenant.json"]
        assert tar.extractfile("greenlight.pgdump").read() == DUMP  # its own member, not base64
        head = json.loads(tar.extractfile("manifest.json").read())
    assert set(head["included"]) == {"tenant.json", "recordings.json", "greenlight.pgdump"}
    assert "recordings" not in head["not_included"] and "greenlight_database" not in head["not_included"]
    assert "greenlight_uploads" in head["not_included"]


def test_an_absent_data_member_says_why_in_the_manifest() -> None:
    export = replace(_export("cafe-montreal"), recordings=(),
                     absent=(("greenlight_database", "it has no Greenlight of its own"),))
    head = _members(build_archive(export))["manifest.json"]
    assert head["not_included"]["greenlight_database"] == "it has no Greenlight of its own"
    assert "recordings.json" in head["included"]
    assert parse_archive(build_archive(export)).recordings == ()


@pytest.mark.parametrize(("files", "message"), [
    ({"greenlight.pgdump": b"-- plain SQL\nDROP TABLE users;\n"}, "not a pg_dump archive in custom format"),
    ({"recordings.json": b'{"recordings": [{"record_id": "x"}]}'}, "recordings.json recordings.0"),
    ({"recordings.json": b'{"recordings": [], "more": 1}'}, "unknown key 'more'"),
    ({"recordings.json": b'{"recordings": {}}'}, "must be a list"),
])
def test_a_bad_data_member_is_refused(files: dict[str, bytes], message: str) -> None:
    docs = {n: json.dumps(d).encode() for n, d in _members(build_archive(_export())).items()}
    with pytest.raises(ArchiveError, match=message):
        parse_archive(_pack({**docs, **files}))


def test_a_version_1_archive_is_still_read_but_never_with_data_members() -> None:
    docs = _members(build_archive(_export()))
    docs["manifest.json"]["version"] = 1
    packed = {n: json.dumps(d).encode() for n, d in docs.items()}
    assert parse_archive(_pack(packed)).tenant.name == "bakery-collective"
    with pytest.raises(ArchiveError, match="version 1 archive holds only"):
        parse_archive(_pack({**packed, "greenlight.pgdump": DUMP}))
