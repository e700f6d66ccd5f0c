"""Observations from the Prometheus HTTP API: peaks over the window, tenants' history.

All queries are instant queries evaluated at one common time and sent concurrently,
each with a timeout. A tenant's history on a server is how far back, within the
window, its series with that `server` label goes (the exporter labels a tenant with
the server the inventory places it on, from the moment it is placed).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from typing import Any

import httpx

from meetfleet.placement.observations import Observations, ServerObservation, TenantObservation
from meetfleet.placement.sources import SourceError

# Resolution of the first-sample search: the window in this many steps.
HISTORY_STEPS = 240


def _range(seconds: float) -> str:
    return f"{max(round(seconds), 1)}s"


def queries(window_seconds: float) -> dict[str, str]:
    w = _range(window_seconds)
    step = _range(window_seconds / HISTORY_STEPS)
    return {
        "up": "max by (server) (meetfleet_server_up)",
        "load_now": "max by (server) (meetfleet_server_load_units)",
        "peak": f"max by (server) (max_over_time(meetfleet_server_load_units[{w}]))",
        "tenant_peak": f"max by (tenant) (max_over_time(meetfleet_tenant_load_units[{w}]))",
        "tenant_first": f"min by (tenant, server) (min_over_time(timestamp(meetfleet_tenant_load_units)[{w}:{step}]))",
        "tenant_now": "max by (tenant, server) (meetfleet_tenant_load_units)",
    }


async def _query(client: httpx.AsyncClient, base: str, expr: str, at: float) -> list[dict[str, Any]]:
    url = f"{base.rstrip('/')}/api/v1/query"
    try:
        response = await client.get(url, params={"query": expr, "time": f"{at:.3f}"})
    except httpx.HTTPError as exc:
        raise SourceError(f"cannot reach Prometheus at {base}: {type(exc).__name__}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        raise SourceError(f"Prometheus at {base} answered HTTP {response.status_code} with no JSON "
                          f"(is this the Prometheus URL?)") from None
    if body.get("status") != "success":
        raise SourceError(f"Prometheus at {base} refused {expr!r}: {body.get('error', response.status_code)}")
    return body["data"]["result"]


async def _query_all(base: str, window_seconds: float, timeout: float, at: float) -> dict[str, list[dict[str, Any]]]:
    exprs = queries(window_seconds)
    async with httpx.AsyncClient(timeout=timeout) as client:
        results = await asyncio.gather(*(_query(client, base, e, at) for e in exprs.values()))
    return dict(zip(exprs, results, strict=True))


def _value(sample: dict[str, Any]) -> float:
    value = float(sample["value"][1])
    return 0.0 if math.isnan(value) else value


def read_prometheus(base: str, window_seconds: float, timeout: float = 10.0) -> Observations:
    at = time.time()
    raw = asyncio.run(_query_all(base, window_seconds, timeout, at))
    if not raw["up"]:
        raise SourceError(f"Prometheus at {base} has no meetfleet_server_up series: "
                          "is it scraping the capacity exporter?")
    up = {s["metric"]["server"]: _value(s) >= 1 for s in raw["up"]}
    load_now = {s["metric"]["server"]: _value(s) for s in raw["load_now"]}
    peak = {s["metric"]["server"]: _value(s) for s in raw["peak"]}
    servers = {name: ServerObservation(up=is_up, load_now=load_now.get(name, 0.0),
                                       peak_load=max(peak.get(name, 0.0), load_now.get(name, 0.0)))
               for name, is_up in up.items()}

    first_on: dict[str, dict[str, float]] = defaultdict(dict)
    for s in raw["tenant_first"]:
        first_on[s["metric"]["tenant"]][s["metric"].get("server", "")] = min(at - _value(s), window_seconds)
    now_on: dict[str, dict[str, float]] = defaultdict(dict)
    for s in raw["tenant_now"]:
        now_on[s["metric"]["tenant"]][s["metric"].get("server", "")] = _value(s)
    tenants = {}
    for s in raw["tenant_peak"]:
        name = s["metric"]["tenant"]
        seconds_on = first_on.get(name, {})
        tenants[name] = TenantObservation(peak_load=_value(s), history_seconds=max(seconds_on.values(), default=0.0),
                                          history_seconds_on=seconds_on, load_now_on=now_on.get(name, {}))
    return Observations(window_seconds, servers, tenants, source=f"prometheus {base}")
