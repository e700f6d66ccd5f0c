"""What identifies one lab on this machine: its network, its label, its base image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LABEL_KEY = "meetfleet.lab"
DEFAULT_LABEL_VALUE = "1"
DEFAULT_NETWORK = "meetfleet-lab"
DEFAULT_IMAGE = "localhost/meetfleet-lab:bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# molecule/*/molecule.yml name their platforms with this prefix.
MOLECULE_CONTAINER_PREFIX = "meetfleet-molecule-"
CONTAINERS_CONF = Path("/etc/containers/containers.conf")
SETUP_HINT = "run `bash scripts/setup.sh` as root (it installs podman, runc and debootstrap)"


@dataclass(frozen=True)
class LabSettings:
    """One lab. Tests use their own network and label value so they never touch the real lab."""

    network: str = DEFAULT_NETWORK
    label_value: str = DEFAULT_LABEL_VALUE
    image: str = DEFAULT_IMAGE
    mirror: str = DEFAULT_MIRROR
    containers_conf: Path = CONTAINERS_CONF

    @property
    def label(self) -> str:
        """`key=value`, as podman's --label and --filter label= take it."""
        return f"{LABEL_KEY}={self.label_value}"
