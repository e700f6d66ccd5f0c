"""After a tenant's change is applied: what its members would use, tried from here.

- the gateway: a create and an end of a throwaway meeting with the tenant's own secret at
  its own endpoint (the gateway knows the tenant, its caps let a room in, its server answers);
- its own Greenlight's site: the health check through nginx (`/health_check`, Greenlight's
  own route, which the monitoring probes also watch).

`connect_to` routes a host name to another address, as curl's --connect-to does, keeping
the name for TLS (SNI and certificate check) and the Host header: the lab publishes its
gateway on 127.0.0.1:19443 under a name that does not resolve here.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_fixed

from meetfleet.bbb.client import BbbClient, BbbEndpoint
from meetfleet.bbb.errors import BbbError

SMOKE_PREFIX = "meetfleet-smoke-"
TIMEOUT = 15.0  # seconds a peer may take to answer one call
RELOAD_WAIT = 30.0  # seconds a just-reloaded gateway may take to know a new tenant

Route = tuple[str, int]


@dataclass(frozen=True)
class Check:
    name: str  # gateway | site
    target: str  # the URL tried (never with a secret: the query is not part of it)
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def parse_connect_to(value: str) -> tuple[Route, Route]:
    """curl's HOST1:PORT1:HOST2:PORT2 (connect to HOST2:PORT2 for HOST1:PORT1; an IPv6
    address in brackets). ValueError if not."""
    first = value.split(":", 2)
    parts = [*first[:2], *first[2].rsplit(":", 1)] if len(first) == 3 else first
    if len(parts) != 4 or not all(parts) or not parts[1].isdigit() or not parts[3].isdigit():
        raise ValueError(f"{value!r} is not HOST:PORT:ADDRESS:PORT (e.g. gw.lab:443:127.0.0.1:19443)")
    parts[2] = parts[2].removeprefix("[").removesuffix("]")
    ports = int(parts[1]), int(parts[3])
    if not all(0 < port < 65536 for port in ports):
        raise ValueError(f"{value!r}: a port must be from 1 to 65535")
    return (parts[0].lower(), ports[0]), (parts[2], ports[1])


class ConnectTo(httpx.AsyncBaseTransport):
    """Sends a request for HOST:PORT to the address `routes` gives, TLS still checked for HOST."""

    def __init__(self, routes: Mapping[Route, Route], inner: httpx.AsyncBaseTransport):
        self.routes = dict(routes)
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        route = self.routes.get((url.host, url.port or (443 if url.scheme == "https" else 80)))
        if route is not None:
            # The Host header was set from the original URL when the request was made.
            request.extensions = {**request.extensions, "sni_hostname": url.host}
            request.url = url.copy_with(host=route[0], port=route[1])
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def transport(routes: Mapping[Route, Route], ca_file: str | None) -> httpx.AsyncBaseTransport:
    context = ssl.create_default_context(cafile=ca_file)
    return ConnectTo(routes, httpx.AsyncHTTPTransport(verify=context))


def _not_known_yet(exc: BaseException) -> bool:
    return isinstance(exc, BbbError) and exc.message_key == "checksumError"


async def gateway_check(client: BbbClient, api_url: str, secret: str, reload_wait: float = RELOAD_WAIT) -> Check:
    endpoint = BbbEndpoint(api_url, secret)
    meeting = SMOKE_PREFIX + secrets.token_hex(4)
    # A gateway that has just been told to reload (systemctl reload returns once the signal
    # is sent) answers a tenant it does not know yet as a wrong secret: checksumError. Asked
    # again for a while; a secret that is really wrong fails after that.
    retrying = AsyncRetrying(retry=retry_if_exception(_not_known_yet), stop=stop_after_delay(reload_wait),
                             wait=wait_fixed(1), reraise=True)
    try:
        async for attempt in retrying:
            with attempt:
                await client.create(endpoint, meeting, "meetfleet smoke check", duration_minutes=1)
    except BbbError as exc:
        verdict = f"refused (asked for {reload_wait:.0f} s)" if _not_known_yet(exc) else \
            "refused" if exc.message_key else "failed"
        return Check("gateway", api_url, False, f"create {verdict}: {exc}")
    try:
        await client.end(endpoint, meeting)
    except BbbError as exc:
        return Check("gateway", api_url, False, f"created {meeting}, but end refused: {exc}")
    return Check("gateway", api_url, True, f"created and ended {meeting}")


async def site_check(http: httpx.AsyncClient, site: str) -> Check:
    url = f"https://{site}/health_check"
    try:
        response = await http.get(url)
    except httpx.HTTPError as exc:
        return Check("site", url, False, f"no answer: {exc.__class__.__name__}: {exc}")
    if response.status_code != 200:
        return Check("site", url, False, f"HTTP {response.status_code}")
    return Check("site", url, True, "HTTP 200")


async def _run(gateway: tuple[str, str] | None, sites: list[str], routes: Mapping[Route, Route],
               ca_file: str | None, reload_wait: float) -> list[Check]:
    checks = []
    async with BbbClient(TIMEOUT, transport=transport(routes, ca_file)) as client:
        if gateway is not None:
            checks.append(await gateway_check(client, *gateway, reload_wait=reload_wait))
    async with httpx.AsyncClient(transport=transport(routes, ca_file), timeout=TIMEOUT,
                                 follow_redirects=False) as http:
        checks.extend(await asyncio.gather(*(site_check(http, site) for site in sites)))
    return checks


def smoke_checks(gateway: tuple[str, str] | None, sites: list[str], routes: Mapping[Route, Route] | None = None,
                 ca_file: str | None = None, reload_wait: float = RELOAD_WAIT) -> list[Check]:
    """Each check's verdict. `gateway`: the tenant's endpoint and its secret, or None."""
    return asyncio.run(_run(gateway, sites, routes or {}, ca_file, reload_wait))


def site_of(origin_server_names: list[str]) -> str:
    """A dedicated Greenlight's own site: its first origin server name, without a port."""
    return urlsplit("//" + origin_server_names[0]).hostname or origin_server_names[0]
