"""`lab down`: remove what carries this lab's label, and nothing else."""

from __future__ import annotations

from collections.abc import Collection

from meetfleet.lab.image import remove_image
from meetfleet.lab.podman import labelled, podman, require_tool
from meetfleet.lab.settings import LabSettings


def lab_down(settings: LabSettings, with_image: bool = False,
             only_hosts: Collection[str] | None = None) -> dict[str, list[str]]:
    """Remove the lab's containers (only those of `only_hosts` when given), then its network
    once no container of the lab is left, and its image when asked. Returns what went."""
    require_tool("podman")
    removed: dict[str, list[str]] = {"containers": [], "networks": [], "images": []}
    ours = labelled("container", settings.label)
    containers = [c for c in ours if only_hosts is None or c in only_hosts]
    if containers:
        podman("rm", "--force", "--time", "5", *containers, timeout=60 + 15 * len(containers))
        removed["containers"] = containers
    if len(containers) == len(ours):  # a network still in use by the lab's other hosts stays
        networks = labelled("network", settings.label)
        for network in networks:
            podman("network", "rm", network, timeout=60)
        removed["networks"] = networks
    if with_image and remove_image(settings) == "removed":
        removed["images"] = [settings.image]
    return removed
