"""The gateway's Prometheus metrics (its own registry: nothing else of the process leaks in)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.refusals = Counter("meetfleet_gateway_refusals", "Calls refused at a plan cap",
                                ["tenant", "cap"], registry=r)
        self.calls = Counter("meetfleet_gateway_calls", "API calls answered, by call and outcome",
                             ["call", "outcome"], registry=r)
        self.latency = Histogram("meetfleet_gateway_call_duration_seconds", "Time to answer a call",
                                 ["call"], registry=r,
                                 buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.upstream_errors = Counter("meetfleet_gateway_upstream_errors", "Failed calls to BBB servers",
                                       ["server", "kind"], registry=r)
        self.server_up = Gauge("meetfleet_gateway_server_up", "1 if the server answered the last poll",
                               ["server"], registry=r)
        self.tenant_rooms = Gauge("meetfleet_gateway_tenant_rooms", "Rooms counted against the cap",
                                  ["tenant"], registry=r)
        self.tenant_users = Gauge("meetfleet_gateway_tenant_users", "Users counted against the cap",
                                  ["tenant"], registry=r)
        self.polls = Counter("meetfleet_gateway_polls", "Polls of the servers' getMeetings", registry=r)
