"""The image tweaks on a debootstrapped tree, and how an existing container is judged."""

from __future__ import annotations

from pathlib import Path

from meetfleet.lab.hosts import LabHost
from meetfleet.lab.image import apply_tweaks, sources_list, suite_of
from meetfleet.lab.settings import LabSettings
from meetfleet.lab.up import container_mismatch


def test_tweaks_make_a_lab_host_image(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    for directory in ("etc/apt", "etc/ssh", "var/lib/apt/lists/partial"):
        (root / directory).mkdir(parents=True)
    (root / "etc/apt/sources.list").write_text("deb http://deb.debian.org/debian bookworm main\n")
    for name in ("ssh_host_ed25519_key", "ssh_host_ed25519_key.pub", "ssh_host_rsa_key"):
        (root / "etc/ssh" / name).write_text("key")
    (root / "etc/ssh/sshd_config").write_text("# config\n")
    (root / "etc/machine-id").write_text("0123456789abcdef\n")
    (root / "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease").write_text("x")

    apply_tweaks(root, "http://mirror.example/debian")

    sources = (root / "etc/apt/sources.list").read_text().splitlines()
    assert sources == ["deb http://mirror.example/debian bookworm main",
                       "deb http://mirror.example/debian bookworm-updates main",
                       "deb http://deb.debian.org/debian-security bookworm-security main"]
    assert sorted(p.name for p in (root / "etc/ssh").iterdir()) == ["sshd_config"]
    dropin = (root / "etc/systemd/system/ssh.service.d/lab-hostkeys.conf").read_text().splitlines()
    # Keys made at first boot only: a later sshd start must not remake the types base removes.
    assert dropin[-3:] == ["ExecStartPre=",
                           "ExecStartPre=/bin/sh -c 'ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1"
                           " || /usr/bin/ssh-keygen -A'",
                           "ExecStartPre=/usr/sbin/sshd -t"]
    assert (root / "etc/machine-id").read_text() == ""
    assert [p.name for p in (root / "var/lib/apt/lists").iterdir()] == ["partial"]
    assert (root / "etc/dpkg/dpkg.cfg.d/meetfleet-lab-unsafe-io").read_text() == "force-unsafe-io\n"
    assert (root / "etc/apt/apt.conf.d/99meetfleet-lab-no-languages").read_text() == 'Acquire::Languages "none";\n'


def test_the_image_tag_picks_the_debian_suite() -> None:
    assert suite_of("localhost/meetfleet-lab:bookworm") == "bookworm"
    assert suite_of("localhost/meetfleet-lab:trixie") == "trixie"
    assert suite_of("localhost/meetfleet-lab:other") == "bookworm"
    assert suite_of("registry.example:5000/meetfleet-lab") == "bookworm"
    assert sources_list("http://m/debian", "trixie").splitlines() == [
        "deb http://m/debian trixie main", "deb http://m/debian trixie-updates main",
        "deb http://deb.debian.org/debian-security trixie-security main"]


HOST = LabHost("a.lab", 2221, "root", Path("/k"), is_bbb=False)
SETTINGS = LabSettings(network="net-x", label_value="1")


def inspect(label: str | None = "1", port: str = "2221", ip: str = "127.0.0.1", network: str = "net-x",
            caps: tuple[str, ...] = ("CAP_NET_ADMIN",)) -> dict:
    return {
        "Config": {"Labels": {"meetfleet.lab": label} if label else {}},
        "HostConfig": {"PortBindings": {"22/tcp": [{"HostIp": ip, "HostPort": port}]}, "CapAdd": list(caps)},
        "NetworkSettings": {"Networks": {network: {}}},
        "State": {"Status": "running"},
    }


def test_matching_container_is_accepted() -> None:
    assert container_mismatch(inspect(), HOST, SETTINGS) == ""


def test_mismatches_say_what_differs() -> None:
    assert "not this lab's" in container_mismatch(inspect(label=None), HOST, SETTINGS)
    assert "not this lab's" in container_mismatch(inspect(label="other"), HOST, SETTINGS)
    assert "127.0.0.1:2221" in container_mismatch(inspect(port="2299"), HOST, SETTINGS)
    assert "127.0.0.1:2221" in container_mismatch(inspect(ip="0.0.0.0"), HOST, SETTINGS)
    assert "net-x" in container_mismatch(inspect(network="podman"), HOST, SETTINGS)
    assert "CAP_NET_ADMIN" in container_mismatch(inspect(caps=()), HOST, SETTINGS)
