"""LAB ONLY: weeks of the BBB stand-ins' synthetic load as OpenMetrics, for
`promtool tsdb create-blocks-from openmetrics`.

The stand-ins (roles/bbb_api_standin, --synthetic-load) run meetings that are a function
of the time and a seed alone, so the past the exporter would have seen is computable:
this script replays it with the same code (meetfleet.testing.bbb_standin.SyntheticLoad) and
the same load model (meetfleet.capacity.load), every STEP seconds. Every series carries
synthetic="lab-backfill" and instance="lab-backfill": it is never mistaken for a scrape.

Run with the capacity exporter's virtualenv (meetfleet installed there):
    python lab_backfill.py CONFIG.json OUT.om
"""

from __future__ import annotations

import json
import sys
import time

from meetfleet.capacity.load import meeting_load
from meetfleet.testing.bbb_standin import SyntheticLoad

LABELS = 'job="meetfleet-capacity",instance="lab-backfill",synthetic="lab-backfill"'


def main(config_path: str, out_path: str) -> int:
    with open(config_path, encoding="utf-8") as source:
        config = json.load(source)
    end = int(time.time() - config["end_before_seconds"])
    start = end - int(config["days"] * 86400)
    step = int(config["step_seconds"])
    series: dict[str, list[str]] = {name: [] for name in (
        "meetfleet_server_up", "meetfleet_server_capacity_load_units", "meetfleet_server_load_units",
        "meetfleet_server_spare_load_units", "meetfleet_tenant_load_units", "meetfleet_tenant_participants")}
    for server in config["servers"]:
        load = SyntheticLoad.from_config({"seed": server["seed"], "scale": server["scale"],
                                         "tenants": [{k: t[k] for k in ("name", "timezone", "max_concurrent_users",
                                                                         "max_rooms", "max_meeting_minutes")}
                                                     for t in server["tenants"]]})
        tenants = {t["name"]: t for t in server["tenants"]}
        labels = f'{LABELS},server="{server["name"]}",region="{server["region"]}"'
        for t in range(start, end + 1, step):
            per_tenant = {name: [0.0, 0] for name in tenants}
            for meeting in load.active(float(t)):
                per_tenant[meeting.tenant][0] += meeting_load(participants=meeting.participants, voice=meeting.voice,
                                                              listeners=meeting.listen_only, video=meeting.video)
                per_tenant[meeting.tenant][1] += meeting.participants
            total = sum(v[0] for v in per_tenant.values())
            series["meetfleet_server_up"].append(f"{{{labels}}} 1 {t}")
            series["meetfleet_server_capacity_load_units"].append(f"{{{labels}}} {server['capacity']} {t}")
            series["meetfleet_server_load_units"].append(f"{{{labels}}} {total:g} {t}")
            series["meetfleet_server_spare_load_units"].append(f"{{{labels}}} {server['capacity'] - total:g} {t}")
            for name, (units, people) in per_tenant.items():
                tenant = tenants[name]
                tenant_labels = (f'{LABELS},tenant="{name}",plan="{tenant["plan"]}",region="{tenant["region"]}",'
                                 f'server="{server["name"]}"')
                series["meetfleet_tenant_load_units"].append(f"{{{tenant_labels}}} {units:g} {t}")
                series["meetfleet_tenant_participants"].append(f"{{{tenant_labels}}} {people} {t}")
    with open(out_path, "w", encoding="utf-8") as out:
        for name, lines in series.items():
            out.write(f"# TYPE {name} gauge\n")
            out.writelines(f"{name}{line}\n" for line in lines)
        out.write("# EOF\n")
    print(f"{sum(map(len, series.values()))} samples from {start} to {end}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
