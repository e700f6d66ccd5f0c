"""Reading one secret from the inventory on purpose: `read_fleet_secret`.

It gives a Python process the one secret it needs (the capacity source's basic-auth
password): the variable's value from group_vars/all/, decrypted with ansible's VaultLib
and the password file ANSIBLE_VAULT_PASSWORD_FILE names. No message ever includes a
secret. (Finding secrets written in plain text is fleet/secrets.py's.)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from meetfleet.fleet.errors import InventoryError, Problem
from meetfleet.fleet.loader import Inventory, open_inventory
from meetfleet.fleet.secrets import PASSWORD_FILE_ENV, VAULT_TAG
from meetfleet.fleet.yamlio import TaggedValue, YamlDoc, parse_yaml


def _error(path: Path, key: str, message: str) -> InventoryError:
    return InventoryError([Problem(path, key, message)])


def _vault(path: Path, variable: str) -> Any:
    """ansible's VaultLib with the password of ANSIBLE_VAULT_PASSWORD_FILE (imported only
    when a vault value is met: ansible is slow to import)."""
    password_file = os.environ.get(PASSWORD_FILE_ENV, "")
    if not password_file:
        raise _error(path, variable, f"is vault-encrypted and {PASSWORD_FILE_ENV} is not set "
                                     "(the file holding the vault password)")
    try:
        from ansible.errors import AnsibleError
        from ansible.parsing.dataloader import DataLoader
        from ansible.parsing.vault import VaultLib, get_file_vault_secret
    except ImportError as exc:  # pragma: no cover - ansible is a dependency
        raise _error(path, variable, f"is vault-encrypted and ansible cannot be imported ({exc})") from None
    try:
        secret = get_file_vault_secret(filename=password_file, vault_id="default", loader=DataLoader())
        secret.load()
    except (AnsibleError, OSError) as exc:
        raise _error(Path(password_file), PASSWORD_FILE_ENV,
                     f"the vault password file cannot be read ({type(exc).__name__})") from None
    return VaultLib([("default", secret)]), AnsibleError


def _decrypt(path: Path, variable: str, ciphertext: str, vault: Any) -> str:
    lib, ansible_error = vault
    try:
        plain = lib.decrypt(ciphertext.strip().encode("utf-8"))
    except ansible_error:
        raise _error(path, variable, f"cannot be decrypted with the vault password of {PASSWORD_FILE_ENV} "
                                     "(wrong password, or not an ansible-vault value)") from None
    except ValueError:  # malformed ciphertext: binascii.Error, bad hex...
        raise _error(path, variable, "cannot be decrypted: not a valid ansible-vault value") from None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise _error(path, variable, "decrypts to something that is not UTF-8 text") from None


def read_fleet_secret(inventory: str | Path | Inventory, variable: str) -> str:
    """The value of `variable` as group_vars/all/ defines it: plain, an inline `!vault`
    value, or a variable of a vault-encrypted file. Raises InventoryError naming the
    file and the variable when it is missing, empty, a template, or cannot be decrypted.

    `inventory`: an inventory already open (its files are not read again), or its directory."""
    if not isinstance(inventory, Inventory):
        inventory = open_inventory(inventory)
    vaults: list[Any] = []  # the VaultLib, made once when first needed

    def decrypt(path: Path, ciphertext: str) -> str:
        if not vaults:
            vaults.append(_vault(path, variable))
        return _decrypt(path, variable, ciphertext, vaults[0])

    # The files Ansible reads for group `all`, in its order, as the loader listed them.
    encrypted = []
    for path in inventory.vars_files("group_vars", "all"):
        doc = inventory.files.doc(path)
        if isinstance(doc, YamlDoc) and doc.encrypted:
            encrypted.append(path)
            continue
        value = _lookup(path, doc, variable)
        if value is not None:
            return _finish(path, variable, value, decrypt)
    for path in encrypted:
        read = inventory.files.text(path)
        if isinstance(read, Problem):
            raise InventoryError([read])
        value = _lookup(path, parse_yaml(path, decrypt(path, read[0])), variable, decrypted=True)
        if value is not None:
            return _finish(path, variable, value, decrypt)
    raise _error(inventory.directory / "group_vars" / "all", variable, "is not defined in group_vars/all/ "
                 "(plain, as an inline !vault value or in a vault-encrypted file)")


def _lookup(path: Path, doc: YamlDoc | Problem, variable: str, decrypted: bool = False) -> Any:
    if isinstance(doc, Problem):
        if decrypted:  # never echo what a YAML error in decrypted text would show
            raise _error(path, "(file)", "decrypts to text that is not valid YAML")
        raise InventoryError([doc])
    if doc.data is None:
        return None
    if not isinstance(doc.data, dict):
        raise _error(path, "(file)", "must be a mapping of variables")
    return doc.data.get(variable)


def _finish(path: Path, variable: str, value: Any, decrypt: Any) -> str:
    if isinstance(value, TaggedValue) and value.tag == VAULT_TAG:
        value = decrypt(path, str(value))
    elif isinstance(value, TaggedValue):
        raise _error(path, variable, f"has the tag {value.tag}; expected a plain or !vault value")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _error(path, variable, "must be a string (a password)")
    value = str(value)
    if "{{" in value or "{%" in value:
        raise _error(path, variable, "is a template; write the value itself (plain, !vault or in a "
                                     "vault-encrypted file), not a reference to another variable")
    if not value:
        raise _error(path, variable, "is empty")
    return value


def decrypt_file(path: Path, text: str, variable: str) -> str:
    """A vault-encrypted file's plain text, to edit it (InventoryError when it cannot be)."""
    return _decrypt(path, variable, text, _vault(path, variable))


def encrypt_file(path: Path, plain: str, variable: str) -> str:
    """`plain` encrypted with the same vault password, as ansible-vault writes a file."""
    lib, _ = _vault(path, variable)
    return lib.encrypt(plain.encode("utf-8")).decode("ascii")
