"""The role's refusals and its install mode, run from this machine against the converged
container with ansible-playbook (check mode: nothing changes). Install mode cannot run for
real in the lab (no Nextcloud archive), so a check-mode run over a stand-in release
directory shows that its steps and expressions resolve, and that no secret is printed."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CONTAINER = "meetfleet-molecule-nextcloud"
SHA = "a" * 64
APP_SHA = "b" * 64
ADMIN = "test-only-admin-password-0123"
CLIENT = "test-only-oidc-client-secret"
TLS = {"nextcloud_server_name": "cloud.test", "nextcloud_tls_cert_file": "/etc/ssl/certs/molecule-nextcloud.pem",
       "nextcloud_tls_key_file": "/etc/ssl/private/molecule-nextcloud.key"}
ARCHIVES = {"nextcloud_archive_url": "https://download.nextcloud.com/server/releases/nextcloud-31.0.0.tar.bz2",
            "nextcloud_archive_sha256": SHA,
            "nextcloud_user_oidc_archive_url": "https://github.com/nextcloud-releases/user_oidc/releases/user_oidc.tar.gz",
            "nextcloud_user_oidc_archive_sha256": APP_SHA}
SSO = {"fleet_sso": {"realm": "coop", "public_url": "https://sso.example.coop"},
       "fleet_tenants": {"bakery-collective": {}, "food.coop": {}}}


def _play(tmp_path: Path, variables: dict, *extra: str) -> subprocess.CompletedProcess:
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([{"name": "nextcloud", "hosts": "all", "become": True, "vars": variables,
                                     "roles": ["nextcloud"]}]))
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", f"{CONTAINER},", "-c",
         "containers.podman.podman", "--check", *extra, str(playbook)],
        cwd=REPO, capture_output=True, text=True, timeout=850,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
             "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_HOST_KEY_CHECKING": "False"})


@pytest.fixture(scope="module")
def secrets(host):
    db = host.file("/root/molecule-nextcloud-db-password").content_string.strip()
    return {"vault_nextcloud_db_password": db, "vault_nextcloud_admin_password": ADMIN,
            "vault_sso_client_secret_nextcloud": CLIENT}


@pytest.mark.parametrize(("variables", "message"), [
    ({"nextcloud_mode": "lab", "fleet_lab": False},
     "nextcloud_mode=lab on meetfleet-molecule-nextcloud but fleet_lab is not true"),
    ({"fleet_lab": False},
     "Install mode needs nextcloud_archive_url (https), nextcloud_archive_sha256 (64 hex digits)"),
    ({"fleet_lab": False, **ARCHIVES}, 'a discovery URL (fleet_sso with realm and public_url in group_vars/all'),
    ({"fleet_lab": False, **ARCHIVES, **SSO, "vault_nextcloud_admin_password": "short"},
     "In install mode nextcloud_admin_password (vault_nextcloud_admin_password)"),
], ids=["lab-without-fleet_lab", "install-without-archive", "install-without-fleet_sso", "short-admin-password"])
def test_check_phase_refuses(tmp_path, secrets, variables, message):
    result = _play(tmp_path, {**TLS, **secrets, **variables}, "--tags", "nextcloud_check")
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0 and message in output, output[-2000:]
    for secret in secrets.values():
        assert secret not in result.stdout + result.stderr


def test_lab_mode_needs_no_fleet_sso(tmp_path, secrets):
    """Before fleet_sso is in the inventory, the role still runs (its defaults guard it)."""
    result = _play(tmp_path, {"fleet_lab": True, **TLS, **secrets}, "--tags", "nextcloud_check")
    assert result.returncode == 0, result.stdout[-2000:]


# A whole role run in check mode against the container: over the suite's 300 s when CI's
# lanes load the machine (it timed out there once at 300 s).
@pytest.mark.timeout(900)
def test_install_mode_check_run(host, tmp_path, secrets):
    release = f"/opt/nextcloud/releases/{SHA[:16]}/nextcloud"
    state = "/var/lib/nextcloud/meetfleet/user_oidc.sha256"
    made = host.run(f"mkdir -p {release} && touch {release}/occ && echo {APP_SHA} > {state}")
    assert made.rc == 0, made.stderr
    try:
        result = _play(tmp_path, {"fleet_lab": False, **TLS, **ARCHIVES, **SSO, **secrets})
    finally:
        host.run(f"rm -rf /opt/nextcloud/releases/{SHA[:16]} {state}")
    assert result.returncode == 0, result.stdout[-3000:]
    for task in ("Point the webroot at the release of the inventory's archive",
                 "Write the passwords for occ into a file only Nextcloud's user reads",
                 "Write the client secret into a file only Nextcloud's user reads"):
        assert task in result.stdout, task
    for secret in secrets.values():
        assert secret not in result.stdout + result.stderr
    assert not host.file("/var/www/nextcloud").exists
