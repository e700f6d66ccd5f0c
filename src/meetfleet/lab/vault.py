"""Throwaway lab secrets in the inventory's git-ignored group_vars/all/vault.yml.

Existing values are kept (hosts already configured with them keep working); missing ones
are added. Real inventories keep this file vault-encrypted; the lab's is plain, mode 0600.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from meetfleet.fleet.model import Gateway
from meetfleet.fleet.yamlio import VAULT_HEADER
from meetfleet.lab.containers_conf import write_atomically
from meetfleet.lab.podman import LabError

HEADER = ("Lab secrets made by `meetfleet lab up`: throwaway values for local containers.\n"
          "Git ignores this file. Values here are kept on rerun; delete a line to renew it.")
FILE_MODE = 0o600


def bbb_secret_key(host: str) -> str:
    """The variable group_vars/bbb.yml looks up for `host`."""
    return "vault_bbb_secret_" + host.replace(".", "_").replace("-", "_")


# Not a secret: one random value per lab vault, kept on rerun. Containers carry it as a
# label (lab/hosts.py SECRETS_LABEL): a container made for another vault (another
# checkout's, or a deleted vault's) holds state made with other secrets, and is remade.
SECRETS_ID_KEY = "lab_secrets_id"

# What roles/keycloak and roles/nextcloud look up, when the lab has such hosts.
KEYCLOAK_KEYS = ("vault_keycloak_admin_password", "vault_keycloak_db_password")
NEXTCLOUD_KEYS = ("vault_nextcloud_admin_password", "vault_nextcloud_db_password")
GREENLIGHT_KEYS = ("vault_greenlight_admin_password",)


def required_keys(bbb_hosts: Iterable[str], roles: Iterable[str] = (),
                  sso_client_secrets: Iterable[str] = (), tenants: Iterable[str] = (),
                  greenlight_secrets: Iterable[str] = ()) -> list[str]:
    """Every secret the lab's roles look up: per BBB host, the fleet-wide ones, those of
    the host kinds present (`roles`: the inventory's role groups in use), one per SSO
    client of the realm (its `secret_variable`), with a gateway one per tenant, and with
    Greenlight hosts one per Greenlight instance."""
    roles = set(roles)
    return [SECRETS_ID_KEY, *(bbb_secret_key(h) for h in sorted(bbb_hosts)),
            "vault_coturn_secret", "vault_exporter_basic_auth_password",
            *(KEYCLOAK_KEYS if "keycloak" in roles else ()),
            *(NEXTCLOUD_KEYS if "nextcloud" in roles else ()),
            *((*GREENLIGHT_KEYS, *sorted(greenlight_secrets)) if "greenlight" in roles else ()),
            *sorted(sso_client_secrets),
            *(sorted(Gateway.secret_variable(t) for t in tenants) if "gateway" in roles else ())]


def merge_vault(text: str, keys: Iterable[str], source: str = "vault.yml",
                new_secret: Callable[[], str] = lambda: secrets.token_hex(32)) -> tuple[str, list[str]]:
    """Return the file text with every key set, and the keys that were added."""
    if text.lstrip().startswith(VAULT_HEADER):
        raise LabError(f"{source}: is vault-encrypted; the lab writes plain throwaway secrets there. "
                       "Decrypt it (ansible-vault decrypt) or move it away, then rerun")
    yaml = YAML(typ="rt")
    yaml.width = 4096  # one secret per line
    try:
        data = yaml.load(text) if text.strip() else None
    except YAMLError as exc:
        raise LabError(f"{source}: not valid YAML ({exc}); fix or delete it, then rerun") from exc
    if data is None:
        data = CommentedMap()
        data.yaml_set_start_comment(HEADER)
    if not isinstance(data, CommentedMap):
        raise LabError(f"{source}: must be a mapping of variables; fix or delete it, then rerun")
    added = []
    for key in keys:
        if data.get(key) in (None, ""):
            data[key] = new_secret()
            added.append(key)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue(), added


def secrets_id(path: Path) -> str:
    """The vault's lab_secrets_id (ensure_vault made it)."""
    value = YAML(typ="safe").load(path.read_text(encoding="utf-8")).get(SECRETS_ID_KEY)
    if not isinstance(value, str) or not value:
        raise LabError(f"{path}: {SECRETS_ID_KEY} is missing; delete that line or the file and rerun")
    return value


def ensure_vault(path: Path, keys: Iterable[str]) -> str:
    """Make `path` hold every key with mode 0600. Returns present, created or updated."""
    existed = path.exists()
    try:
        text = path.read_text(encoding="utf-8") if existed else ""
    except OSError as exc:
        raise LabError(f"{path}: cannot be read ({exc})") from exc
    new_text, added = merge_vault(text, keys, str(path))
    mode_ok = existed and (path.stat().st_mode & 0o777) == FILE_MODE
    if added or not existed:
        write_atomically(path, new_text, FILE_MODE)
    elif not mode_ok:
        path.chmod(FILE_MODE)
    if not existed:
        return "created"
    return "updated" if added or not mode_ok else "present"
