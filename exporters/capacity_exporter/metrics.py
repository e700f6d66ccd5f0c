"""The /metrics payload, rendered from the exporter's state with prometheus-client.

Names and labels are the contract in docs/architecture.md. A server whose last poll
failed exports up=0, its capacity, state, poll duration and last success, but no
meetings or load: zeros would tell placement it is empty, stale values would hide the
outage. Retired servers only export their capacity and state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from meetfleet.bbb import ErrorKind
from meetfleet.capacity.metric_names import SERVER_UP
from meetfleet.fleet import ServerState

if TYPE_CHECKING:
    from capacity_exporter.poller import StateView

SERVER_LABELS = ["server", "region"]
TENANT_LABELS = ["tenant", "plan", "region", "server"]

# name suffix -> (help, Usage attribute) for the per-server load gauges
SERVER_USAGE = {
    "meetings": ("Meetings (rooms; breakout rooms not included)", "meetings"),
    "participants": ("Participants (a user in a breakout room counted once)", "participants"),
    "listeners": ("Listen-only participants", "listeners"),
    "voice_participants": ("Participants on two-way audio", "voice"),
    "video_streams": ("Camera streams", "video"),
    "load_units": ("Load in load units (meetfleet.capacity.load)", "load_units"),
}
TENANT_USAGE = {
    "meetings": ("Meetings of the tenant (rooms)", "meetings"),
    "participants": ("Participants in the tenant's meetings", "participants"),
    "load_units": ("Load of the tenant's meetings in load units", "load_units"),
}


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class StateCollector(Collector):
    def __init__(self, state: StateView):
        self.state = state

    def collect(self):
        state = self.state
        yield from self._servers(state)
        yield from self._tenants(state)
        yield from self._exporter(state)

    def _servers(self, state: StateView):
        up = _gauge(SERVER_UP, "1 if the last poll of the server's BBB API succeeded", SERVER_LABELS)
        usage = {key: _gauge(f"meetfleet_server_{key}", doc, SERVER_LABELS) for key, (doc, _) in SERVER_USAGE.items()}
        capacity = _gauge("meetfleet_server_capacity_load_units", "Capacity in load units (inventory)",
                          SERVER_LABELS)
        spare = _gauge("meetfleet_server_spare_load_units", "Capacity minus load (negative when overloaded)",
                       SERVER_LABELS)
        server_state = _gauge("meetfleet_server_state", "1 for the server's state in the inventory, 0 for the others",
                              [*SERVER_LABELS, "state"])
        duration = _gauge("meetfleet_server_poll_duration_seconds", "Duration of the last poll", SERVER_LABELS)
        last_ok = _gauge("meetfleet_server_last_success_timestamp_seconds",
                         "When the server was last polled successfully (epoch seconds)", SERVER_LABELS)
        for target in state.targets:
            labels = [target.name, target.region]
            capacity.add_metric(labels, target.capacity)
            for value in ServerState:
                server_state.add_metric([*labels, value.value], 1.0 if target.state == value else 0.0)
            result = state.results.get(target.name)
            if not target.polled or result is None:
                continue
            up.add_metric(labels, 1.0 if result.up else 0.0)
            duration.add_metric(labels, result.duration_seconds)
            if result.last_success is not None:
                last_ok.add_metric(labels, result.last_success)
            if result.usage is not None:
                total = result.usage.total
                for key, (_doc, attr) in SERVER_USAGE.items():
                    usage[key].add_metric(labels, getattr(total, attr))
                spare.add_metric(labels, target.capacity - total.load_units)
        yield up
        yield from usage.values()
        yield from (capacity, spare, server_state, duration, last_ok)

    def _tenants(self, state: StateView):
        totals = state.tenant_usage()
        gauges = {key: _gauge(f"meetfleet_tenant_{key}", doc, TENANT_LABELS) for key, (doc, _) in TENANT_USAGE.items()}
        users = _gauge("meetfleet_tenant_plan_max_concurrent_users", "The plan's most concurrent users", TENANT_LABELS)
        rooms = _gauge("meetfleet_tenant_plan_max_rooms", "The plan's most concurrent meetings", TENANT_LABELS)
        longest = _gauge("meetfleet_tenant_longest_meeting_seconds",
                         "Age of the tenant's longest-running meeting, in seconds", TENANT_LABELS)
        # Seconds, Prometheus's base unit (promtool check metrics); the inventory says minutes.
        longest_allowed = _gauge("meetfleet_tenant_plan_max_meeting_seconds", "The plan's longest meeting, in seconds",
                                 TENANT_LABELS)
        for name in state.tenants:
            tenant = state.fleet.tenants[name]
            labels = [name, tenant.plan, tenant.region, tenant.bbb_server or ""]
            for key, (_doc, attr) in TENANT_USAGE.items():
                gauges[key].add_metric(labels, getattr(totals[name], attr))
            longest.add_metric(labels, totals[name].longest_meeting_minutes * 60)
            plan = state.fleet.plans[tenant.plan]
            users.add_metric(labels, plan.max_concurrent_users)
            rooms.add_metric(labels, plan.max_rooms)
            longest_allowed.add_metric(labels, plan.max_meeting_minutes * 60)
        yield from gauges.values()
        yield from (longest, users, rooms, longest_allowed)

    def _exporter(self, state: StateView):
        errors = CounterMetricFamily("meetfleet_exporter_errors", "Failed polls by server and kind",
                                     labels=["server", "kind"])
        polls = CounterMetricFamily("meetfleet_exporter_polls", "Polls by server", labels=["server"])
        for target in state.targets:
            if not target.polled:
                continue
            polls.add_metric([target.name], state.polls[target.name])
            for kind in ErrorKind:
                errors.add_metric([target.name, kind.value], state.errors[(target.name, kind.value)])
        yield errors
        yield polls


def render(state: StateView) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(state))
    return generate_latest(registry)
