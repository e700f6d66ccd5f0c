#!/usr/bin/env python3
"""Time the lab's commands on an 8-host lab of its own (never the real lab).

    .venv/bin/python scripts/lab_benchmark.py [--hosts 8] [--runs 3] [--json]

Makes an inventory of N hosts (bench-N.labbench, ports 23001...) with the lab's
connection settings, then per run: `lab up` from nothing, `lab up` again, `lab status`,
`ansible all -m ping`, `lab down`. Figures go in docs/lab.md. Needs podman and the base
image (it would build it on the first `lab up`, which then dominates the figure).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LABEL, NETWORK = "labbench", "meetfleet-labbench"
ENV = {**os.environ, "MEETFLEET_LAB_LABEL": LABEL, "MEETFLEET_LAB_NETWORK": NETWORK, "NO_COLOR": "1"}


def make_inventory(root: Path, count: int) -> Path:
    inventory = root / "inventories" / "lab"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "host_vars").mkdir()
    for name in ("group_vars/all/connection.yml", "group_vars/all/fleet.yml", "group_vars/bbb.yml"):
        shutil.copy(REPO / "inventories" / "lab" / name, inventory / name)
    hosts = [f"bench-{i}.labbench" for i in range(1, count + 1)]
    lines = ["all:", "  children:", "    bbb:", "      hosts:"] + [f"        {h}:" for h in hosts]
    (inventory / "hosts.yml").write_text("\n".join(lines) + "\n")
    for i, host in enumerate(hosts, start=1):
        (inventory / "host_vars" / f"{host}.yml").write_text(
            f"fleet_region: eu\nfleet_provider: static\nansible_port: {23000 + i}\n")
    return inventory


def timed(args: list[str]) -> float:
    start = time.monotonic()
    result = subprocess.run(args, env=ENV, cwd=REPO, capture_output=True, text=True, timeout=900)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f"benchmark: {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    meetfleet = [str(BIN / "meetfleet"), "lab"]
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="meetfleet-labbench-") as tmp:
        inventory = make_inventory(Path(tmp), options.hosts)
        inv = ["--inventory", str(inventory)]
        timed([*meetfleet, "down"])
        try:
            for _ in range(options.runs):
                for name, args in (
                    ("lab up (from nothing)", [*meetfleet, "up", *inv]),
                    ("lab up (again, nothing to do)", [*meetfleet, "up", *inv]),
                    ("lab status", [*meetfleet, "status", *inv]),
                    ("ansible all -m ping", [str(BIN / "ansible"), "-i", str(inventory), "all", "-m", "ping"]),
                    ("lab down", [*meetfleet, "down"]),
                ):
                    figures.setdefault(name, []).append(timed(args))
        finally:
            subprocess.run([*meetfleet, "down"], env=ENV, capture_output=True, timeout=300)
    summary = {name: {"median_s": round(statistics.median(v), 2), "min_s": round(min(v), 2),
                      "max_s": round(max(v), 2)} for name, v in figures.items()}
    if options.json:
        print(json.dumps({"hosts": options.hosts, "runs": options.runs, "figures": summary}, indent=2))
        return
    print(f"{options.hosts} hosts, {options.runs} runs, {os.cpu_count()} CPUs")
    for name, fig in summary.items():
        print(f"  {name:32} median {fig['median_s']:6.2f} s  (min {fig['min_s']:.2f}, max {fig['max_s']:.2f})")


if __name__ == "__main__":
    main()
