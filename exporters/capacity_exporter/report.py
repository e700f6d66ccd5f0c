"""The exporter's state as plain data: `--once --json` output and its table."""

from __future__ import annotations

from typing import Any

from capacity_exporter.poller import ExporterState, StateView


def snapshot(state: ExporterState | StateView) -> dict[str, Any]:
    if isinstance(state, ExporterState):
        state = state.view()
    servers: dict[str, Any] = {}
    for target in state.targets:
        entry: dict[str, Any] = {
            "region": target.region, "state": target.state.value, "polled": target.polled,
            "capacity_load_units": target.capacity, "up": None, "error": None,
        }
        result = state.results.get(target.name)
        if result is not None:
            entry["up"] = result.up
            entry["poll_duration_seconds"] = round(result.duration_seconds, 4)
            if result.error is not None:
                entry["error"] = {"kind": result.error.kind.value, "message": str(result.error)}
            if result.usage is not None:
                total = result.usage.total
                entry.update({
                    "meetings": total.meetings, "breakout_rooms": total.breakout_rooms,
                    "participants": total.participants, "listeners": total.listeners,
                    "voice_participants": total.voice, "video_streams": total.video,
                    "load_units": round(total.load_units, 3),
                    "spare_load_units": round(target.capacity - total.load_units, 3),
                    "unattributed_meetings": result.usage.unattributed_meetings,
                })
        servers[target.name] = entry
    tenants: dict[str, Any] = {}
    for name, usage in sorted(state.tenant_usage().items()):
        tenant = state.fleet.tenants[name]
        plan = state.fleet.plans[tenant.plan]
        tenants[name] = {
            "plan": tenant.plan, "region": tenant.region, "server": tenant.bbb_server,
            "meetings": usage.meetings, "participants": usage.participants,
            "load_units": round(usage.load_units, 3),
            "longest_meeting_minutes": round(usage.longest_meeting_minutes, 2),
            "plan_max_concurrent_users": plan.max_concurrent_users, "plan_max_rooms": plan.max_rooms,
            "plan_max_meeting_minutes": plan.max_meeting_minutes,
        }
    return {"servers": servers, "tenants": tenants}


SERVER_COLUMNS = ("server", "region", "state", "up", "meetings", "participants", "load", "capacity", "spare", "error")
TENANT_COLUMNS = ("tenant", "plan", "server", "meetings", "rooms max", "participants", "users max", "load")


def server_rows(data: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for name, s in data["servers"].items():
        up = {True: "yes", False: "NO", None: "-"}[s["up"]]
        rows.append([name, s["region"], s["state"], up, s.get("meetings"), s.get("participants"),
                     s.get("load_units"), s["capacity_load_units"], s.get("spare_load_units"),
                     s["error"]["message"] if s["error"] else ""])
    return rows


def tenant_rows(data: dict[str, Any]) -> list[list[Any]]:
    return [[name, t["plan"], t["server"], t["meetings"], t["plan_max_rooms"], t["participants"],
             t["plan_max_concurrent_users"], t["load_units"]] for name, t in data["tenants"].items()]
