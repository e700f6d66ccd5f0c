"""One command per step of a member's life: `tenant plan`, `tenant remove`, `tenant export`
and `tenant import` (docs/tenants.md). Every refusal exits as the README says and writes nothing."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml

from meetfleet.fleet import load_inventory
from meetfleet.membership.archive import NOT_INCLUDED
from tests.cli.conftest import CA1, EU1, EU2, Standin, metrics_text
from tests.helpers import edit, flat, run, snapshot

TENANTS_FILE = "group_vars/all/tenants.yml"
PASSWORD = b"correct horse battery staple"


def _vault_lib():
    from ansible.parsing.vault import VaultLib, VaultSecret

    return VaultLib([("default", VaultSecret(PASSWORD))])


def _without_tenant_load(name: str) -> str:
    """The stand-in's metrics with `name` running nothing (its series gone: no meeting, no load)."""
    return "".join(line + "\n" for line in metrics_text().splitlines() if f'tenant="{name}"' not in line)


# --- tenant plan --------------------------------------------------------------------------


def test_a_smaller_plan_always_fits_and_asks_no_capacity_source(example_copy: Path) -> None:
    result = run("tenant", "plan", "housing-federation", "--plan", "medium", "-i", str(example_copy), "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["changed"] is True and document["capacity_checked"] is False
    assert document["caps"] == {"max_concurrent_users": 200, "max_rooms": 20, "max_meeting_minutes": 240}
    fleet = load_inventory(example_copy)
    assert fleet.tenants["housing-federation"].plan == "medium"
    assert fleet.tenants["housing-federation"].bbb_server == EU2


def test_a_bigger_plan_that_fits_its_server_is_recorded(example_copy: Path, standin: Standin) -> None:
    before = snapshot(example_copy)
    result = run("tenant", "plan", "cafe-montreal", "--plan", "medium", "--exporter", standin.url,
                 "-i", str(example_copy))
    assert result.exit_code == 0, result.output
    assert "small -> medium" in flat(result.output) and "once it reloads the inventory" in flat(result.output)
    after = snapshot(example_copy)
    assert {k for k in after if after[k] != before[k]} == {TENANTS_FILE}
    assert after[TENANTS_FILE].decode() == before[TENANTS_FILE].decode().replace(
        "  cafe-montreal:\n    plan: small\n", "  cafe-montreal:\n    plan: medium\n")
    assert standin.requests  # the bigger plan was checked against observed load


def test_a_bigger_plan_its_server_cannot_take_is_refused_with_the_move_to_make(
        example_copy: Path, standin: Standin) -> None:
    # bbb-eu-2 big enough for bakery at medium; bbb-eu-1 (its server) is not.
    edit(example_copy / f"host_vars/{EU2}.yml", "fleet_bbb_capacity: 400", "fleet_bbb_capacity: 2000")
    before = snapshot(example_copy)
    result = run("tenant", "plan", "bakery-collective", "--plan", "medium", "--exporter", standin.url,
                 "-i", str(example_copy), "--json")
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "server_cannot_take_plan" and error["best"] == EU2 and error["server"] == EU1
    assert f"meetfleet tenant move bakery-collective --to {EU2}" in error["message"]
    assert snapshot(example_copy) == before


def test_a_bigger_plan_with_no_server_in_the_region_for_it_says_so(example_copy: Path, standin: Standin) -> None:
    before = snapshot(example_copy)
    result = run("tenant", "plan", "cafe-montreal", "--plan", "large", "--exporter", standin.url,
                 "-i", str(example_copy))
    assert result.exit_code == 1
    assert "no server of region ca can take it at plan large" in flat(result.output)
    assert "Traceback" not in result.output
    assert snapshot(example_copy) == before


@pytest.mark.parametrize(("args", "kind"), [
    (("cafe-montreal", "--plan", "platinum"), "unknown_plan"),
    (("nobody", "--plan", "small"), "unknown_tenant"),
])
def test_plan_bad_input_exits_2_and_writes_nothing(example_copy: Path, args: tuple[str, ...], kind: str) -> None:
    before = snapshot(example_copy)
    result = run("tenant", "plan", *args, "-i", str(example_copy), "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["kind"] == kind
    assert snapshot(example_copy) == before


def test_the_same_plan_changes_nothing(example_copy: Path) -> None:
    before = snapshot(example_copy)
    result = run("tenant", "plan", "cafe-montreal", "--plan", "small", "-i", str(example_copy), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["changed"] is False
    assert snapshot(example_copy) == before


# --- tenant remove ------------------------------------------------------------------------


def test_remove_is_refused_while_the_tenant_has_running_meetings(example_copy: Path, standin: Standin) -> None:
    before = snapshot(example_copy)
    export = example_copy.parent / "cafe.tar.gz"
    result = run("tenant", "remove", "cafe-montreal", "--exporter", standin.url, "--export", str(export),
                 "-i", str(example_copy), "--json")
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "tenant_has_meetings" and error["servers"] == [CA1]
    assert snapshot(example_copy) == before
    assert not export.exists()  # refused before the export was written


def test_remove_without_a_capacity_source_is_refused_unless_forced(example_copy: Path) -> None:
    before = snapshot(example_copy)
    result = run("tenant", "remove", "cafe-montreal", "-i", str(example_copy))
    assert result.exit_code == 2
    assert "--force to remove it without checking" in flat(result.output)
    assert snapshot(example_copy) == before
    forced = run("tenant", "remove", "cafe-montreal", "--force", "-i", str(example_copy))
    assert forced.exit_code == 0, forced.output
    assert "cafe-montreal" not in load_inventory(example_copy).tenants


def test_remove_when_its_server_is_down_cannot_tell_and_refuses(example_copy: Path, standin: Standin) -> None:
    standin.body = _without_tenant_load("cafe-montreal").replace(
        f'meetfleet_server_up{{region="ca",server="{CA1}"}} 1', f'meetfleet_server_up{{region="ca",server="{CA1}"}} 0')
    before = snapshot(example_copy)
    result = run("tenant", "remove", "cafe-montreal", "--exporter", standin.url, "-i", str(example_copy), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["kind"] == "meetings_unknown"
    assert snapshot(example_copy) == before


def test_remove_takes_its_record_and_its_secret_and_nothing_of_anyone_else(
        example_copy: Path, standin: Standin) -> None:
    vault = example_copy / "group_vars/all/vault.yml"
    vault.write_text("# lab secrets\nvault_gateway_secret_bakery_collective: aaaa1111aaaa1111\n"
                     "vault_gateway_secret_cafe_montreal: bbbb2222bbbb2222\nvault_coturn_secret: cccc3333\n")
    vault.chmod(0o600)
    standin.body = _without_tenant_load("cafe-montreal")
    others_before = {n: t for n, t in load_inventory(example_copy).tenants.items() if n != "cafe-montreal"}
    before = snapshot(example_copy)
    export = example_copy.parent / "cafe.tar.gz"
    result = run("tenant", "remove", "cafe-montreal", "--exporter", standin.url, "--export", str(export),
                 "-i", str(example_copy), "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["secrets_removed"] == [{"variable": "vault_gateway_secret_cafe_montreal", "file": str(vault)}]
    after = snapshot(example_copy)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == {TENANTS_FILE, "group_vars/all/vault.yml"}
    assert vault.read_text() == ("# lab secrets\nvault_gateway_secret_bakery_collective: aaaa1111aaaa1111\n"
                                 "vault_coturn_secret: cccc3333\n")
    assert vault.stat().st_mode & 0o777 == 0o600
    fleet = load_inventory(example_copy)
    assert "cafe-montreal" not in fleet.tenants
    assert fleet.tenants == others_before
    assert "cafe-montreal" not in after[TENANTS_FILE].decode()
    assert export.exists()


def test_remove_takes_the_greenlight_and_client_secrets_of_a_tenant_with_its_own_greenlight(
        example_copy: Path, standin: Standin) -> None:
    vault = example_copy / "group_vars/all/vault.yml"
    kept = ("vault_gateway_secret_housing_federation: keep1111keep1111\n"
            "vault_greenlight_secret_housing_federation: keep2222keep2222\n"
            "vault_sso_client_secret_housing_federation: keep3333keep3333\n")
    vault.write_text("vault_gateway_secret_bakery_collective: aaaa1111aaaa1111\n"
                     "vault_greenlight_secret_bakery_collective: bbbb2222bbbb2222\n"
                     "vault_sso_client_secret_bakery_collective: cccc3333cccc3333\n" + kept)
    vault.chmod(0o600)
    standin.body = _without_tenant_load("bakery-collective")
    result = run("tenant", "remove", "bakery-collective", "--exporter", standin.url, "-i", str(example_copy),
                 "--json")
    assert result.exit_code == 0, result.output
    assert [s["variable"] for s in json.loads(result.stdout)["secrets_removed"]] == [
        "vault_gateway_secret_bakery_collective", "vault_greenlight_secret_bakery_collective",
        "vault_sso_client_secret_bakery_collective"]
    assert vault.read_text() == kept


def test_remove_keeps_an_encrypted_vault_encrypted(example_copy: Path, standin: Standin, tmp_path: Path,
                                                   monkeypatch) -> None:
    password = tmp_path / "vault-password"
    password.write_bytes(PASSWORD + b"\n")
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(password))
    vault = example_copy / "group_vars/all/vault.yml"
    vault.write_text(_vault_lib().encrypt("vault_coturn_secret: kept\nvault_gateway_secret_cafe_montreal: x1\n")
                     .decode() + "\n")
    standin.body = _without_tenant_load("cafe-montreal")
    result = run("tenant", "remove", "cafe-montreal", "--exporter", standin.url, "-i", str(example_copy))
    assert result.exit_code == 0, result.output
    assert vault.read_text().startswith("$ANSIBLE_VAULT;")
    assert _vault_lib().decrypt(vault.read_text().encode()).decode() == "vault_coturn_secret: kept\n"


def test_remove_with_an_encrypted_vault_it_cannot_open_writes_nothing(example_copy: Path, standin: Standin,
                                                                      monkeypatch) -> None:
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    (example_copy / "group_vars/all/vault.yml").write_text(_vault_lib().encrypt("a: b\n").decode() + "\n")
    standin.body = _without_tenant_load("cafe-montreal")
    before = snapshot(example_copy)
    result = run("tenant", "remove", "cafe-montreal", "--exporter", standin.url, "-i", str(example_copy))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert snapshot(example_copy) == before


def test_remove_is_refused_when_its_export_cannot_be_written(example_copy: Path, standin: Standin) -> None:
    standin.body = _without_tenant_load("cafe-montreal")
    before = snapshot(example_copy)
    result = run("tenant", "remove", "cafe-montreal", "--exporter", standin.url, "--export",
                 str(example_copy.parent / "no-such-dir" / "cafe.tar.gz"), "-i", str(example_copy), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["kind"] == "export_failed"
    assert snapshot(example_copy) == before


def test_remove_of_an_unknown_tenant_is_bad_input(example_copy: Path) -> None:
    before = snapshot(example_copy)
    result = run("tenant", "remove", "nobody", "--force", "-i", str(example_copy), "--json")
    assert result.exit_code == 2 and json.loads(result.stdout)["error"]["kind"] == "unknown_tenant"
    assert snapshot(example_copy) == before


# --- export and import --------------------------------------------------------------------

# The other cooperative's servers: other names, room for the whole membership.
OTHER = {EU1: "bbb-fra-1.other.coop", EU2: "bbb-fra-2.other.coop", CA1: "bbb-yul-1.other.coop"}


def _other_fleet(example: Path, where: Path, capacity: int = 2000) -> Path:
    target = where / "other"
    shutil.copytree(example, target)
    hosts = (target / "hosts.yml").read_text()
    for old, new in OTHER.items():
        hosts = hosts.replace(old, new)
        (target / f"host_vars/{old}.yml").rename(target / f"host_vars/{new}.yml")
    (target / "hosts.yml").write_text(hosts)
    for name in ("bbb-fra-1.other.coop", "bbb-fra-2.other.coop"):
        edit(target / f"host_vars/{name}.yml", "fleet_bbb_capacity: 400", f"fleet_bbb_capacity: {capacity}")
    tenants = target / TENANTS_FILE
    text = tenants.read_text()
    tenants.write_text(text[:text.index("fleet_tenants:")] + "fleet_tenants: {}\n")
    return target


def _other_metrics() -> str:
    lines = ["# TYPE meetfleet_server_up gauge"]
    lines += [f'meetfleet_server_up{{region="{"ca" if "yul" in s else "eu"}",server="{s}"}} 1' for s in OTHER.values()]
    lines += ["# TYPE meetfleet_server_load_units gauge"]
    lines += [f'meetfleet_server_load_units{{region="{"ca" if "yul" in s else "eu"}",server="{s}"}} 0'
              for s in OTHER.values()]
    return "\n".join(lines) + "\n"


def test_the_whole_membership_round_trips_into_another_fleet(example_copy: Path, standin: Standin,
                                                             tmp_path: Path) -> None:
    target = _other_fleet(example_copy, tmp_path)
    standin.body = _other_metrics()
    out = tmp_path / "export"
    exported = run("tenant", "export", "--all", "--output", str(out), "-i", str(example_copy), "--json")
    assert exported.exit_code == 0, exported.output
    document = json.loads(exported.stdout)
    assert document["not_included"] == NOT_INCLUDED
    files = sorted(out.glob("*.tar.gz"))
    assert len(files) == 5
    result = run("tenant", "import", *map(str, files), "--exporter", standin.url, "-i", str(target), "--json")
    assert result.exit_code == 0, result.output
    assert [i["tenant"] for i in json.loads(result.stdout)["imported"]] == [f.name[:-7] for f in files]
    source, imported = load_inventory(example_copy).tenants, load_inventory(target).tenants
    assert set(imported) == set(source)
    for name, tenant in source.items():
        assert imported[name].model_copy(update={"bbb_server": None}) == tenant.model_copy(update={"bbb_server": None})
        assert imported[name].bbb_server in OTHER.values()  # the target's placement decided
    # A second import of the same member is refused: names are unique.
    again = run("tenant", "import", str(files[0]), "--exporter", standin.url, "-i", str(target), "--json")
    assert again.exit_code == 2 and json.loads(again.stdout)["error"]["kind"] == "tenant_exists"


def test_import_stops_at_the_first_refusal_and_reports_what_it_imported(example_copy: Path, standin: Standin,
                                                                        tmp_path: Path) -> None:
    target = _other_fleet(example_copy, tmp_path, capacity=400)  # no room for the large member
    standin.body = _other_metrics()
    out = tmp_path / "export"
    assert run("tenant", "export", "--all", "-o", str(out), "-i", str(example_copy)).exit_code == 0
    files = [out / f"{n}.tar.gz" for n in ("bakery-collective", "cafe-montreal", "housing-federation",
                                           "tenants-union-toronto")]
    before = snapshot(target)
    result = run("tenant", "import", *map(str, files), "--exporter", standin.url, "-i", str(target), "--json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["error"]["kind"] == "nothing_fits"
    assert [i["tenant"] for i in document["imported"]] == ["bakery-collective", "cafe-montreal"]
    assert document["refused"] == str(files[2])
    assert set(load_inventory(target).tenants) == {"bakery-collective", "cafe-montreal"}
    after = snapshot(target)
    assert {k for k in after if after[k] != before[k]} == {TENANTS_FILE}


def test_import_maps_plan_and_region_and_drops_a_greenlight_host_it_does_not_have(
        example_copy: Path, standin: Standin, tmp_path: Path) -> None:
    target = _other_fleet(example_copy, tmp_path)
    edit(target / "group_vars/all/fleet.yml", "  small:\n", "  basic:\n")
    edit(target / "hosts.yml", "rooms-eu.example.coop:", "rooms.other.coop:")
    (target / "host_vars/rooms-eu.example.coop.yml").rename(target / "host_vars/rooms.other.coop.yml")
    standin.body = _other_metrics()
    archive = tmp_path / "bakery.tar.gz"
    assert run("tenant", "export", "bakery-collective", "-o", str(archive), "-i", str(example_copy)).exit_code == 0
    before = snapshot(target)
    refused = run("tenant", "import", str(archive), "--exporter", standin.url, "-i", str(target), "--json")
    assert refused.exit_code == 2 and json.loads(refused.stdout)["error"]["kind"] == "unknown_plan"
    assert "--plan small=P" in json.loads(refused.stdout)["error"]["message"]
    assert snapshot(target) == before
    result = run("tenant", "import", str(archive), "--plan", "small=basic", "--exporter", standin.url,
                 "-i", str(target))
    assert result.exit_code == 0, result.output
    assert "dropped greenlight rooms-eu.example.coop" in flat(result.output)
    bakery = load_inventory(target).tenants["bakery-collective"]
    assert bakery.plan == "basic" and bakery.greenlight is None and bakery.sso_client == "bakery-collective"


def test_import_into_an_unknown_region_is_bad_input(example_copy: Path, standin: Standin, tmp_path: Path) -> None:
    archive = tmp_path / "cafe.tar.gz"
    assert run("tenant", "export", "cafe-montreal", "-o", str(archive), "-i", str(example_copy)).exit_code == 0
    target = _other_fleet(example_copy, tmp_path)
    before = snapshot(target)
    result = run("tenant", "import", str(archive), "--region", "ca=us", "--exporter", standin.url,
                 "-i", str(target), "--json")
    assert result.exit_code == 2 and json.loads(result.stdout)["error"]["kind"] == "unknown_region"
    assert snapshot(target) == before and not standin.requests


def test_export_never_overwrites(example_copy: Path, tmp_path: Path) -> None:
    archive = tmp_path / "cafe.tar.gz"
    archive.write_bytes(b"mine")
    result = run("tenant", "export", "cafe-montreal", "-o", str(archive), "-i", str(example_copy), "--json")
    assert result.exit_code == 2 and json.loads(result.stdout)["error"]["kind"] == "export_exists"
    assert archive.read_bytes() == b"mine"


def test_the_archive_holds_no_secret_and_says_what_it_lacks(example_copy: Path, tmp_path: Path) -> None:
    (example_copy / "group_vars/all/vault.yml").write_text("vault_gateway_secret_cafe_montreal: s3cr3t-value-123\n")
    archive = tmp_path / "cafe.tar.gz"
    assert run("tenant", "export", "cafe-montreal", "-o", str(archive), "-i", str(example_copy)).exit_code == 0
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["manifest.json", "tenant.json"]
        texts = {n: tar.extractfile(n).read().decode() for n in tar.getnames()}
    assert all("s3cr3t" not in text for text in texts.values())
    manifest = json.loads(texts["manifest.json"])
    assert set(manifest["not_included"]) >= {"greenlight_database", "recordings", "secrets"}
    assert manifest["source_inventory"] == "example" and manifest["version"] == 2


def test_a_bad_archive_is_bad_input_and_writes_nothing(example_copy: Path, standin: Standin,
                                                       tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not an archive")
    before = snapshot(example_copy)
    result = run("tenant", "import", str(bad), "--exporter", standin.url, "-i", str(example_copy), "--json")
    assert result.exit_code == 2 and json.loads(result.stdout)["error"]["kind"] == "bad_archive"
    assert "Traceback" not in result.output
    assert snapshot(example_copy) == before and not standin.requests


def test_add_with_its_own_greenlight_makes_the_instance_and_client_secrets_and_prints_neither(
        example_copy: Path, standin: Standin) -> None:
    vault = example_copy / "group_vars/all/vault.yml"
    vault.write_text("vault_coturn_secret: cccc3333\n")
    vault.chmod(0o600)
    result = run("tenant", "add", "choir-leipzig", "--plan", "small", "--region", "ca",
                 "--greenlight", "rooms-eu.example.coop", "--sso-client", "choir-leipzig",
                 "--origin-server-name", "choir.rooms-eu.example.coop", "--exporter", standin.url,
                 "-i", str(example_copy))
    assert result.exit_code == 0, result.output
    made = yaml.safe_load(vault.read_text())
    assert set(made) == {"vault_coturn_secret", "vault_greenlight_secret_choir_leipzig",
                         "vault_sso_client_secret_choir_leipzig"}
    for variable in ("vault_greenlight_secret_choir_leipzig", "vault_sso_client_secret_choir_leipzig"):
        assert len(made[variable]) == 64 and made[variable] not in result.output
    assert vault.stat().st_mode & 0o777 == 0o600
    assert load_inventory(example_copy).tenants["choir-leipzig"].greenlight == "rooms-eu.example.coop"


def test_add_dedicated_picks_its_region_greenlight_host_and_names_its_client_after_it(
        example_copy: Path, standin: Standin) -> None:
    edit(example_copy / "hosts.yml", "        rooms-eu.example.coop:\n", "        rooms-eu.example.coop:\n"
         "        rooms-ca.example.coop:\n")
    (example_copy / "host_vars/rooms-ca.example.coop.yml").write_text(
        "fleet_region: ca\nfleet_provider: static\nansible_host: 198.51.100.30\n")
    result = run("tenant", "add", "choir-quebec", "--plan", "small", "--region", "ca", "--greenlight", "dedicated",
                 "--origin-server-name", "choir.rooms-ca.example.coop", "--exporter", standin.url,
                 "-i", str(example_copy), "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert (answer["greenlight"], answer["sso_client"]) == ("rooms-ca.example.coop", "choir-quebec")
    recorded = load_inventory(example_copy).tenants["choir-quebec"]
    assert (recorded.greenlight, recorded.sso_client) == ("rooms-ca.example.coop", "choir-quebec")


def test_add_shared_records_no_greenlight_of_its_own(example_copy: Path, standin: Standin) -> None:
    result = run("tenant", "add", "choir-leipzig", "--plan", "small", "--region", "ca", "--greenlight", "shared",
                 "--exporter", standin.url, "-i", str(example_copy))
    assert result.exit_code == 0, result.output
    recorded = load_inventory(example_copy).tenants["choir-leipzig"]
    assert (recorded.greenlight, recorded.sso_client) == (None, None)


@pytest.mark.parametrize(("choice", "kind"), [
    ("dedicated", "no_greenlight_host"),  # the example's only greenlight host is in eu
    ("shared", "no_shared_greenlight"),  # in a fleet without fleet_sso
])
def test_add_a_greenlight_that_cannot_be_had_is_bad_input_and_writes_nothing(
        example_copy: Path, standin: Standin, choice: str, kind: str) -> None:
    if choice == "shared":
        (example_copy / "group_vars/all/sso.yml").unlink()
    before = snapshot(example_copy)
    result = run("tenant", "add", "choir-leipzig", "--plan", "small", "--region", "ca", "--greenlight", choice,
                 "--origin-server-name", "choir.rooms.example.coop", "--exporter", standin.url,
                 "-i", str(example_copy), "--json")
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["error"]["kind"] == kind
    assert snapshot(example_copy) == before and not standin.requests


def test_add_without_a_vault_file_records_the_tenant_and_names_the_secrets_to_make(
        example_copy: Path, standin: Standin) -> None:
    result = run("tenant", "add", "choir-leipzig", "--plan", "small", "--region", "ca",
                 "--greenlight", "rooms-eu.example.coop", "--sso-client", "choir-leipzig",
                 "--origin-server-name", "choir.rooms-eu.example.coop", "--exporter", standin.url,
                 "-i", str(example_copy))
    assert result.exit_code == 0, result.output
    assert "vault_greenlight_secret_choir_leipzig and vault_sso_client_secret_choir_leipzig" in flat(result.stderr)
    assert not (example_copy / "group_vars/all/vault.yml").exists()
