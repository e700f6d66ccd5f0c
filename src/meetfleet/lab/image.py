"""The lab's base image: Debian 12 minbase with systemd and sshd, built locally with debootstrap.

No registry is reachable here, so the image is made from Debian's packages and imported.
An image tagged `:trixie` (`lab prepare --image-name localhost/meetfleet-lab:trixie`) is
Debian 13 instead, for roles that need its packages (roles/keycloak: OpenJDK 21).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from meetfleet.lab.podman import LabError, exists, require_tool, run_tool
from meetfleet.lab.settings import LabSettings

SUITE = "bookworm"
# Image tags that name another Debian suite; any other tag is SUITE.
OTHER_SUITES = ("trixie",)
PACKAGES = ("python3", "systemd", "systemd-sysv", "dbus", "iproute2", "sudo",
            "openssh-server", "ca-certificates", "python3-apt")
DEBOOTSTRAP_TIMEOUT = 1200.0
IMPORT_TIMEOUT = 600.0

SSH_HOSTKEYS_DROPIN = """\
# Each lab host makes its own SSH host keys at first boot (the image ships none); only
# then: at every start `ssh-keygen -A` would remake the types base removes (ECDSA).
[Service]
ExecStartPre=
ExecStartPre=/bin/sh -c 'ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1 || /usr/bin/ssh-keygen -A'
ExecStartPre=/usr/sbin/sshd -t
"""


SECURITY_MIRROR = "http://deb.debian.org/debian-security"

# What Debian's own container images set (docker-library/debian: docker-apt-speedup,
# docker-no-languages): dpkg without an fsync per unpacked file, and no translation indexes
# to fetch at every `apt-get update`. A lab host is thrown away, never crashed and kept, so
# the durability fsync buys is not wanted here (not measured on its own: docs/testing.md).
DPKG_SPEEDUP = ("etc/dpkg/dpkg.cfg.d/meetfleet-lab-unsafe-io", "force-unsafe-io\n")
APT_NO_LANGUAGES = ("etc/apt/apt.conf.d/99meetfleet-lab-no-languages", 'Acquire::Languages "none";\n')


def suite_of(image: str) -> str:
    """The Debian suite an image is built from: its tag when that names one, else SUITE."""
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    return tag if tag in OTHER_SUITES else SUITE


def sources_list(mirror: str, suite: str = SUITE) -> str:
    return (f"deb {mirror} {suite} main\n"
            f"deb {mirror} {suite}-updates main\n"
            f"deb {SECURITY_MIRROR} {suite}-security main\n")


def apply_tweaks(rootfs: Path, mirror: str, suite: str = SUITE) -> None:
    """Turn a debootstrapped tree into a lab host image (see module and docs/lab.md)."""
    (rootfs / "etc/apt/sources.list").write_text(sources_list(mirror, suite))
    for key in (rootfs / "etc/ssh").glob("ssh_host_*"):
        key.unlink()  # identical host keys on every host would be wrong; made at boot instead
    dropin = rootfs / "etc/systemd/system/ssh.service.d/lab-hostkeys.conf"
    dropin.parent.mkdir(parents=True, exist_ok=True)
    dropin.write_text(SSH_HOSTKEYS_DROPIN)
    (rootfs / "etc/machine-id").write_text("")  # systemd makes one per container
    for relative, text in (DPKG_SPEEDUP, APT_NO_LANGUAGES):
        (rootfs / relative).parent.mkdir(parents=True, exist_ok=True)
        (rootfs / relative).write_text(text)
    lists = rootfs / "var/lib/apt/lists"
    if lists.is_dir():
        for entry in lists.iterdir():
            if entry.is_file():
                entry.unlink()


def ensure_image(settings: LabSettings, progress: Callable[[str], None]) -> str:
    """Build and import the image if podman lacks it. Returns present or created."""
    if exists("image", settings.image):
        return "present"
    require_tool("debootstrap")
    suite = suite_of(settings.image)
    progress(f"building {settings.image} ({suite}) with debootstrap from {settings.mirror} (a minute or two)")
    # /var/tmp: a rootfs is ~300 MB, too big for a tmpfs /tmp on small machines.
    with tempfile.TemporaryDirectory(prefix="meetfleet-lab-rootfs-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs"
        run_tool(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                  suite, str(rootfs), settings.mirror],
                 timeout=DEBOOTSTRAP_TIMEOUT, what="debootstrap (is the Debian mirror reachable?)")
        apply_tweaks(rootfs, settings.mirror, suite)
        _import(rootfs, settings)
    return "created"


def _import(rootfs: Path, settings: LabSettings) -> None:
    tar_bin, podman_bin = require_tool("tar"), require_tool("podman")
    with subprocess.Popen([tar_bin, "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
        try:
            result = subprocess.run(
                [podman_bin, "import", "--change", 'CMD ["/sbin/init"]',
                 "--change", f"LABEL {settings.label}", "-", settings.image],
                stdin=tar.stdout, capture_output=True, text=True, timeout=IMPORT_TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            tar.kill()
            raise LabError(f"`podman import` of {settings.image}: no answer within {IMPORT_TIMEOUT:g} s") from exc
        finally:
            if tar.stdout:
                tar.stdout.close()
        tar.wait(timeout=60)
    if tar.returncode != 0 or result.returncode != 0:
        raise LabError(f"importing {settings.image} failed: tar exit {tar.returncode}, podman import exit "
                       f"{result.returncode}: {result.stderr.strip()[-300:]}")


def remove_image(settings: LabSettings) -> str:
    """Remove the base image (lab down --image). Returns removed or absent."""
    if not exists("image", settings.image):
        return "absent"
    result = run_tool(["podman", "rmi", settings.image], timeout=120, check=False)
    if result.returncode != 0:
        raise LabError(f"cannot remove {settings.image}: {result.stderr.strip()} "
                       "(containers still using it, e.g. molecule scenarios, must go first)")
    return "removed"


