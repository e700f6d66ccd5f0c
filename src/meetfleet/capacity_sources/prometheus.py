"""Observations from the Prometheus HTTP API: peaks over the window, per hour of the week.

Instant queries, evaluated at one common time and sent concurrently, give each
server's up, current load and peak over the window, and each tenant's peak, current
load and how far back its series with each `server` label goes (the exporter labels a
tenant with the server the inventory places it on, from the moment it is placed).

With a window of at least a week, range queries (1 h steps, each point the peak of the
clock hour before it) give each server's peak per hour of the week, and, for the
tenants that started a series within the window (newcomers and moved tenants: the only
ones whose own week the model reads), theirs. Hours without samples get the server's
peak over the window (unknown is not free) and nothing for a tenant (it showed nothing
there). Every call has a timeout.

A value that is NaN, infinite or negative (Prometheus writes "NaN", "+Inf", "-Inf") is
no measurement: the server it is labelled with is refused (Observations.refused) and
counts as unknown, never as empty; a tenant with such a value is left out.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import ssl
import time
from collections import defaultdict
from typing import Any

import httpx

from meetfleet.capacity.metric_names import SERVER_LOAD_UNITS, SERVER_UP, TENANT_LOAD_UNITS
from meetfleet.capacity_sources.errors import SourceError, tls_verify
from meetfleet.placement.observations import Observations, ServerObservation, TenantObservation, is_valid
from meetfleet.placement.profile import HOURS_PER_WEEK, hour_of_week

# Resolution of the first-sample search: the window in this many steps.
HISTORY_STEPS = 240
HOUR = 3600
WEEK = 7 * 24 * HOUR
# Tenants per range query (their names go into one regex matcher).
TENANTS_PER_QUERY = 100
MAX_HOURS = 10_000


def _range(seconds: float) -> str:
    return f"{max(round(seconds), 1)}s"


def queries(window_seconds: float, partial_hour_seconds: float = 0.0) -> dict[str, str]:
    w = _range(window_seconds)
    step = _range(window_seconds / HISTORY_STEPS)
    exprs = {
        "up": f"max by (server) ({SERVER_UP})",
        "load_now": f"max by (server) ({SERVER_LOAD_UNITS})",
        "peak": f"max by (server) (max_over_time({SERVER_LOAD_UNITS}[{w}]))",
        "tenant_peak": f"max by (tenant) (max_over_time({TENANT_LOAD_UNITS}[{w}]))",
        "tenant_first": f"min by (tenant, server) (min_over_time(timestamp({TENANT_LOAD_UNITS})[{w}:{step}]))",
        "tenant_now": f"max by (tenant, server) ({TENANT_LOAD_UNITS})",
    }
    if partial_hour_seconds >= 1:  # the hour under way, not in the hourly range query yet
        exprs["peak_this_hour"] = (f"max by (server) (max_over_time({SERVER_LOAD_UNITS}"
                                   f"[{_range(partial_hour_seconds)}]))")
    return exprs


def hourly_server_query() -> str:
    return f"max by (server) (max_over_time({SERVER_LOAD_UNITS}[1h]))"


def hourly_tenant_query(tenants: list[str]) -> str:
    pattern = json.dumps("|".join(re.escape(t) for t in tenants))
    return f"max by (tenant) (max_over_time({TENANT_LOAD_UNITS}{{tenant=~{pattern}}}[1h]))"


def _answer(base: str, expr: str, response: httpx.Response) -> Any:
    if response.status_code in (401, 403):
        raise SourceError(f"Prometheus at {base} answered HTTP {response.status_code}: "
                          "missing or wrong credentials (basic auth)")
    try:
        body = response.json()
    except ValueError:
        raise SourceError(f"Prometheus at {base} answered HTTP {response.status_code} with no JSON "
                          f"(is this the Prometheus URL?)") from None
    if body.get("status") != "success":
        raise SourceError(f"Prometheus at {base} refused {expr!r}: {body.get('error', response.status_code)}")
    return body["data"]["result"]


async def _query(client: httpx.AsyncClient, base: str, expr: str, at: float) -> list[dict[str, Any]]:
    url = f"{base.rstrip('/')}/api/v1/query"
    try:
        response = await client.get(url, params={"query": expr, "time": f"{at:.3f}"})
    except httpx.HTTPError as exc:
        raise SourceError(f"cannot reach Prometheus at {base}: {type(exc).__name__}: {exc}") from exc
    return _answer(base, expr, response)


async def _query_range(client: httpx.AsyncClient, base: str, expr: str, start: float,
                       end: float) -> list[dict[str, Any]]:
    url = f"{base.rstrip('/')}/api/v1/query_range"
    form = {"query": expr, "start": f"{start:.0f}", "end": f"{end:.0f}", "step": str(HOUR)}
    try:
        response = await client.post(url, data=form)  # POST: the tenant matcher can be long
    except httpx.HTTPError as exc:
        raise SourceError(f"cannot reach Prometheus at {base}: {type(exc).__name__}: {exc}") from exc
    return _answer(base, expr, response)


def _value(raw: Any) -> float:
    """A sample value as Prometheus serialises it ("1", "NaN", "+Inf", "-1"), unchanged."""
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise SourceError(f"Prometheus sent {raw!r} where a number was expected") from None


def _hourly(series: list[dict[str, Any]], label: str) -> tuple[dict[str, dict[int, float]], dict[str, str]]:
    """Per series label value: peak per hour of the week (a point at t is the hour before t).

    Also the label values with an invalid point, and that point as Prometheus sent it:
    a NaN must not vanish in max() (max(0.0, nan) is 0.0).
    """
    out: dict[str, dict[int, float]] = defaultdict(dict)
    bad: dict[str, str] = {}
    for s in series:
        key = s["metric"].get(label, "")
        hours = out[key]
        for t, raw in s["values"]:
            value = _value(raw)
            if not is_valid(value):
                bad.setdefault(key, str(raw))
                continue
            hour = hour_of_week(float(t) - HOUR)
            hours[hour] = max(hours.get(hour, 0.0), value)
    return out, bad


def _hours_span(window_seconds: float, at: float) -> tuple[float, float] | None:
    """Start and end of the hourly range query: whole clock hours within the window."""
    if window_seconds < WEEK:
        return None  # too short for every hour of the week: the flat peak is the honest answer
    end = math.floor(at / HOUR) * HOUR
    # Prometheus answers at most 11,000 points per series: a longer window keeps its
    # most recent 10,000 hours (over a year) for the hourly detail.
    hours = min(math.floor((window_seconds - (at - end)) / HOUR), MAX_HOURS)
    return end - (hours - 1) * HOUR, end


async def _read(base: str, window_seconds: float, timeout: float, at: float,
                auth: tuple[str, str] | None, verify: bool | ssl.SSLContext) -> dict[str, Any]:
    span = _hours_span(window_seconds, at)
    partial = at - span[1] if span else 0.0
    exprs = queries(window_seconds, partial)
    async with httpx.AsyncClient(timeout=timeout, auth=auth, verify=verify) as client:
        calls = [_query(client, base, e, at) for e in exprs.values()]
        if span:
            calls.append(_query_range(client, base, hourly_server_query(), *span))
        results = await asyncio.gather(*calls)
        raw: dict[str, Any] = dict(zip(exprs, results, strict=False))
        raw["server_hours"] = results[len(exprs)] if span else []
        raw["tenant_hours"] = []
        if span:
            # Only tenants whose series on some server starts within the window need their own week.
            fresh = sorted({s["metric"]["tenant"] for s in raw["tenant_first"]
                            if is_valid(first := _value(s["value"][1]))
                            and at - first < window_seconds - 2 * window_seconds / HISTORY_STEPS})
            batches = [fresh[i:i + TENANTS_PER_QUERY] for i in range(0, len(fresh), TENANTS_PER_QUERY)]
            answers = await asyncio.gather(*(_query_range(client, base, hourly_tenant_query(b), *span)
                                             for b in batches))
            raw["tenant_hours"] = [s for answer in answers for s in answer]
    return raw


# What each instant query's value is, for the reason a server is refused.
_MEANING = {"up": SERVER_UP, "load_now": "current load", "peak": "peak over the window",
            "peak_this_hour": "peak this hour"}


def read_prometheus(base: str, window_seconds: float, timeout: float = 10.0, *,
                    auth: tuple[str, str] | None = None, verify: bool | str = True) -> Observations:
    """Observations over `window_seconds` from the Prometheus at `base`.

    `auth`: basic-auth (user, password); `verify`: check the TLS certificate (False: do
    not; a path: against that CA file). `timeout`: seconds for each HTTP call.
    """
    at = time.time()
    raw = asyncio.run(_read(base, window_seconds, timeout, at, auth, tls_verify(verify)))
    if not raw["up"]:
        raise SourceError(f"Prometheus at {base} has no {SERVER_UP} series: "
                          "is it scraping the capacity exporter?")
    refused: dict[str, str] = {}

    def by_server(key: str) -> dict[str, float]:
        out = {}
        for s in raw.get(key, []):
            server, sent = s["metric"]["server"], s["value"][1]
            value = _value(sent)
            if is_valid(value):
                out[server] = value
            else:
                refused.setdefault(server, f"{sent} as its {_MEANING[key]}")
        return out

    up = {name: value >= 1 for name, value in by_server("up").items()}
    load_now, peak, this_hour = by_server("load_now"), by_server("peak"), by_server("peak_this_hour")
    server_hours, bad_hours = _hourly(raw["server_hours"], "server")
    for name, sent in bad_hours.items():
        refused.setdefault(name, f"{sent} as its peak in an hour of the week")
    has_hours = bool(_hours_span(window_seconds, at))
    servers = {}
    for name, is_up in up.items():
        if name in refused:
            continue
        top = max(peak.get(name, 0.0), load_now.get(name, 0.0))
        profile = None
        if has_hours:
            hours = server_hours.get(name, {})
            current = hour_of_week(at)
            hours[current] = max(hours.get(current, 0.0), this_hour.get(name, 0.0), load_now.get(name, 0.0))
            profile = tuple(hours.get(h, top) for h in range(HOURS_PER_WEEK))
        servers[name] = ServerObservation(up=is_up, load_now=load_now.get(name, 0.0), peak_load=top, profile=profile)

    # Tenants: a bad value drops the tenant and refuses the servers its series are on.
    bad_tenants: dict[str, str] = {}
    first_on: dict[str, dict[str, float]] = defaultdict(dict)
    now_on: dict[str, dict[str, float]] = defaultdict(dict)
    for key, what, into in (("tenant_first", "first sample time", first_on), ("tenant_now", "current load", now_on)):
        for s in raw[key]:
            tenant, server, sent = s["metric"]["tenant"], s["metric"].get("server", ""), s["value"][1]
            value = _value(sent)
            if not is_valid(value):
                bad_tenants.setdefault(tenant, f"{sent} as tenant {tenant}'s {what}")
                value = math.nan
            # A first sample is a time: its history is how far back it goes, within the window.
            into[tenant][server] = max(0.0, min(at - value, window_seconds)) if key == "tenant_first" else value
    tenant_hours, bad_tenant_hours = _hourly(raw["tenant_hours"], "tenant")
    for tenant, sent in bad_tenant_hours.items():
        bad_tenants.setdefault(tenant, f"{sent} as tenant {tenant}'s peak in an hour of the week")
    peaks = {}
    for s in raw["tenant_peak"]:
        tenant, sent = s["metric"]["tenant"], s["value"][1]
        peaks[tenant] = _value(sent)
        if not is_valid(peaks[tenant]):
            bad_tenants.setdefault(tenant, f"{sent} as tenant {tenant}'s peak over the window")
    for tenant, why in bad_tenants.items():
        for server in (*first_on.get(tenant, {}), *now_on.get(tenant, {})):
            refused.setdefault(server, why)
    servers = {name: seen for name, seen in servers.items() if name not in refused}
    tenants = {}
    for name, tenant_peak in peaks.items():
        if name in bad_tenants:
            continue
        seconds_on = first_on.get(name, {})
        profile = None
        if name in tenant_hours:
            hours = tenant_hours[name]
            current = hour_of_week(at)
            hours[current] = max([hours.get(current, 0.0), *now_on.get(name, {}).values()])
            profile = tuple(hours.get(h, 0.0) for h in range(HOURS_PER_WEEK))
        tenants[name] = TenantObservation(peak_load=tenant_peak, profile=profile,
                                          history_seconds=max(seconds_on.values(), default=0.0),
                                          history_seconds_on=seconds_on, load_now_on=now_on.get(name, {}))
    return Observations(window_seconds, servers, tenants, source=f"prometheus {base}", at=at, refused=refused)
