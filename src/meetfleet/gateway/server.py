"""The gateway's HTTP side: BBB's API per tenant at /t/TENANT/bigbluebutton/api/CALL.

The tenant is named by the path and the call must be signed with that tenant's secret;
anything else (another tenant's secret, a server's, no tenant) answers checksumError,
as BBB would. Calls are re-signed for the BBB server where the meeting runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from urllib.parse import parse_qsl

import aiohttp
import httpx
from aiohttp import web
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from yarl import URL

from meetfleet.bbb import BbbClient, BbbError
from meetfleet.bbb.parsing import RecordingsResult, parse_recordings
from meetfleet.capacity.load import meeting_load
from meetfleet.fleet import ServerState
from meetfleet.gateway import callbacks, protocol
from meetfleet.gateway.config import GatewayConfig, ServerConfig, TenantConfig
from meetfleet.gateway.metrics import GatewayMetrics
from meetfleet.gateway.store import EXISTING, FULL, Store

log = logging.getLogger("meetfleet.gateway")

UPSTREAM_TIMEOUT = 5.0
MAX_ANSWER_BYTES = 32 * 1024 * 1024
POLL_INTERVAL = 15.0
# BBB's defaults are 5 and 1 minutes; a room nobody uses frees its slot at least this soon.
MAX_EXPIRE_IF_NO_USER_JOINED = 5
MAX_EXPIRE_WHEN_LAST_USER_LEFT = 2
XML = "text/xml;charset=utf-8"
RECORDING_CALLS = ("getRecordings", "publishRecordings", "deleteRecordings", "updateRecordings",
                   "getRecordingTextTracks", "putRecordingTextTrack")
CALLS = ("create", "join", "end", "getMeetings", "getMeetingInfo", "isMeetingRunning", *RECORDING_CALLS)
# getRecordings' offset and limit, as BBB documents them (2.6): offset >= 0, limit 1 to 100
MAX_RECORDINGS_LIMIT = 100
# putRecordingTextTrack's upload, as the stand-in's (the API reference says "maybe 8MB?")
MAX_UPLOAD_BYTES = 8 * 1024 * 1024

NOT_FOUND = protocol.failed("notFound", "We could not find a meeting with that meeting ID")
# bbb-web's answers (ApiController.groovy; RecMetaXmlHelper.scala for noRecordings)
RECORDINGS_NOT_FOUND = protocol.failed("notFound", "We could not find recordings")
NO_RECORDINGS = protocol.response("SUCCESS", "<recordings></recordings>" + protocol.leaves(
    [("messageKey", "noRecordings"), ("message", "There are no recordings for the meeting(s).")]))
MISSING_RECORD_ID = protocol.failed("missingParamRecordID", "You must specify a recordID.")


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else -1


class ServerHealth:
    __slots__ = ("meetings", "spare", "up")

    def __init__(self, capacity: int) -> None:
        self.up = True  # until a poll or a call says otherwise
        self.spare = float(capacity)
        self.meetings: list[tuple[str, str, int]] = []  # (tenant, upstream meetingID, participants)


class Gateway:
    def __init__(self, config: GatewayConfig, store: Store, *, metrics: GatewayMetrics | None = None,
                 timeout: float = UPSTREAM_TIMEOUT, poll_interval: float = POLL_INTERVAL):
        self.config = config
        self.store = store
        self.metrics = metrics or GatewayMetrics()
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.client = BbbClient(timeout=timeout)
        # Calls on the way to a server go through aiohttp's client, made on the running loop
        # (self.http): about 1 ms a call cheaper than httpx's (benchmarks/gateway_bench.py),
        # most of what the gateway adds. Trust as the poller's (BbbClient: one TLS context).
        self._tls = httpx.create_ssl_context()
        self._http: aiohttp.ClientSession | None = None
        self.health = {name: ServerHealth(s.capacity) for name, s in config.servers.items()}
        self._poller: asyncio.Task | None = None

    # --- life cycle --------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", "/t/{tenant}/bigbluebutton/api", self.handle)
        app.router.add_route("*", "/t/{tenant}/bigbluebutton/api/", self.handle)
        app.router.add_route("*", "/t/{tenant}/bigbluebutton/api/{call}", self.handle)
        app.router.add_route("*", "/bigbluebutton/api/{call}", self.no_tenant)
        app.router.add_post(f"/t/{{tenant}}/{callbacks.PATH}/{{token}}", self.recording_ready)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)
        return app

    def metrics_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self.serve_metrics)
        return app

    async def _start(self, _app: web.Application) -> None:
        await self.poll()  # state rebuilt from the servers before the first call is answered
        if self.poll_interval > 0:
            self._poller = asyncio.create_task(self._poll_forever())

    async def _stop(self, _app: web.Application) -> None:
        if self._poller is not None:
            self._poller.cancel()
        await self.client.aclose()
        if self._http is not None:
            await self._http.close()
        await self.store.close()

    def reconfigure(self, config: GatewayConfig) -> None:
        """A new inventory's tenants, caps and servers (SIGHUP), without a restart: the
        counters (the store) and what the last poll saw of servers still listed are kept;
        a new server is taken as up until its first poll. A call under way keeps the
        configuration it started with; the next call sees the new one."""
        self.health = {name: self.health.get(name) or ServerHealth(server.capacity)
                       for name, server in config.servers.items()}
        self.config = config

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self.poll()
            except Exception:  # a poll must never stop the next one
                log.exception("poll failed")

    async def poll(self) -> None:
        """Every server's getMeetings: server health and spare load, each tenant's rooms and users."""
        names = list(self.config.servers)
        results = await asyncio.gather(*(self._poll_server(n) for n in names))
        rooms: dict[str, dict[str, str]] = {t: {} for t in self.config.tenants}
        users: dict[str, int] = dict.fromkeys(self.config.tenants, 0)
        for name, ok in zip(names, results, strict=True):
            if not ok:
                log.warning("poll: %s did not answer; its last known meetings are kept", name)
            for tenant, meeting_id, participants in self.health[name].meetings:
                rooms[tenant][meeting_id] = name
                users[tenant] += participants
        for tenant in self.config.tenants:
            await self.store.sync(tenant, rooms[tenant], users[tenant])
            self.metrics.tenant_rooms.labels(tenant).set(await self.store.rooms(tenant))
            self.metrics.tenant_users.labels(tenant).set(users[tenant])
        self.metrics.polls.inc()

    async def _poll_server(self, name: str) -> bool:
        server, health = self.config.servers[name], self.health[name]
        try:
            meetings = await self.client.get_meetings(server.endpoint, timeout=self.timeout)
        except BbbError as exc:
            health.up = False
            self.metrics.server_up.labels(name).set(0)
            self.metrics.upstream_errors.labels(name, exc.kind.value).inc()
            return False
        health.up = True
        self.metrics.server_up.labels(name).set(1)
        load, kept = 0.0, []
        for m in meetings:
            load += meeting_load(participants=m.participants, voice=m.voice, listeners=m.listeners, video=m.video)
            tenant = self.config.tenants.get(m.metadata.get("tenant", ""))
            if tenant is not None and not m.is_breakout and m.meeting_id.startswith(tenant.prefix):
                kept.append((tenant.name, m.meeting_id, m.participants))
        health.spare = server.capacity - load
        health.meetings = kept
        return True

    # --- HTTP ----------------------------------------------------------------------------

    async def serve_metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.metrics.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def no_tenant(self, _request: web.Request) -> web.Response:
        # No tenant in the path: no secret to check against. BBB's answer to a bad checksum.
        return web.Response(body=protocol.CHECKSUM_ERROR, content_type="text/xml", charset="utf-8")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        call = request.match_info.get("call", "")
        label = call if call in CALLS or call == "" else "other"
        started = time.perf_counter()
        outcome = "error"
        try:
            answer, outcome = await self._dispatch(request, call)
        except Exception:
            log.exception("%s: internal error", label or "version")
            answer = protocol.failed("internalError", "The gateway could not handle the call.")
        self._count(label or "version", outcome, started)
        if isinstance(answer, web.StreamResponse):
            return answer
        return web.Response(body=answer, headers={"Content-Type": XML})

    def _count(self, label: str, outcome: str, started: float) -> None:
        self.metrics.calls.labels(label, outcome).inc()
        self.metrics.latency.labels(label).observe(time.perf_counter() - started)

    async def _dispatch(self, request: web.Request, call: str) -> tuple[bytes | web.StreamResponse, str]:
        if request.method not in ("GET", "POST", "HEAD"):
            return protocol.failed("unsupportedRequest", "Use GET."), "failed"
        tenant = self.config.tenants.get(request.match_info["tenant"])
        if call == "":
            return protocol.response("SUCCESS", protocol.leaves([("version", "2.0"), ("apiVersion", "2.0")])), "ok"
        raw_query = request.rel_url.raw_query_string
        # an unknown tenant answers as a wrong secret does: the path tells nobody who is a member
        if tenant is None or not protocol.checksum_ok(call, raw_query, tenant.secret):
            return protocol.CHECKSUM_ERROR, "checksum"
        params = dict(parse_qsl(protocol.split_checksum(raw_query)[0], keep_blank_values=True))
        if call == "putRecordingTextTrack":  # the only call with a body the gateway forwards
            return await self.put_recording_text_track(tenant, params, request)
        handler = {"create": self.create, "join": self.join, "end": self.end, "getMeetings": self.get_meetings,
                   "getMeetingInfo": self.get_meeting_info, "isMeetingRunning": self.is_meeting_running,
                   "getRecordings": self.get_recordings,
                   "getRecordingTextTracks": self.get_recording_text_tracks}.get(call)
        if handler is not None:
            return await handler(tenant, params)
        if call in RECORDING_CALLS:
            return await self.change_recordings(tenant, call, params)
        # the other calls (insertDocument, sendChatMessage, hooks...) are not routed: refused, never passed on
        return protocol.failed("unsupportedRequest", "This request is not supported by the gateway."), "failed"

    # --- upstream ------------------------------------------------------------------------

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200, ssl=self._tls),
                timeout=aiohttp.ClientTimeout(total=None), headers={"User-Agent": "meetfleet-gateway"},
                auto_decompress=True)
        return self._http

    async def _receive(self, server: ServerConfig, call: str, params: dict[str, str], *,
                       upload: tuple[bytes, str] | None = None) -> bytes | None:
        """The body of `server`'s answer (HTTP 200, at most MAX_ANSWER_BYTES, within the
        deadline), or None when it gives none (counted; a timeout or connect error marks it down).
        With `upload` (body, Content-Type) the call is a POST of that body."""
        url = URL(server.endpoint.url(call, params), encoded=True)  # sent byte for byte as signed
        method, body, headers = ("GET", None, None) if upload is None else ("POST", upload[0],
                                                                             {"Content-Type": upload[1]})
        try:
            async with asyncio.timeout(self.timeout):
                async with self.http.request(method, url, data=body, headers=headers,
                                             allow_redirects=False) as answer:
                    if answer.status != 200:
                        raise _Upstream("http")
                    chunks, size = [], 0
                    async for chunk in answer.content.iter_any():
                        size += len(chunk)
                        if size > MAX_ANSWER_BYTES:
                            raise _Upstream("too_large")
                        chunks.append(chunk)
            return b"".join(chunks)
        except TimeoutError:
            kind = "timeout"
        except aiohttp.ClientError:
            kind = "connect"
        except _Upstream as exc:
            kind = exc.kind
        self._upstream_failed(server, call, kind)
        return None

    def _upstream_failed(self, server: ServerConfig, call: str, kind: str) -> None:
        self.metrics.upstream_errors.labels(server.name, kind).inc()
        log.warning("%s: %s failed upstream (%s)", server.name, call, kind)
        if kind in ("timeout", "connect"):
            self.health[server.name].up = False
            self.metrics.server_up.labels(server.name).set(0)

    async def _fetch(self, server: ServerConfig, call: str, params: dict[str, str]):
        """The parsed answer of `server` (an Element), or None when it gives none (marked down)."""
        body = await self._receive(server, call, params)
        if body is None:
            return None
        try:
            root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
            if root.tag != "response" or root.findtext("returncode") is None:
                raise _Upstream("malformed")
            if root.findtext("messageKey") == "checksumError":
                raise _Upstream("checksum")  # our secret for it is wrong: the caller's call was fine
            return root
        except (DefusedXmlException, SyntaxError):  # ParseError is a SyntaxError
            kind = "malformed"
        except _Upstream as exc:
            kind = exc.kind
        self._upstream_failed(server, call, kind)
        return None

    async def _fetch_recordings(self, server: ServerConfig, params: dict[str, str], keep) -> RecordingsResult | None:
        """`server`'s getRecordings, only the recordings `keep` accepts kept (the others are dropped
        as they are parsed), or None when it gives no usable answer."""
        body = await self._receive(server, "getRecordings", params)
        if body is None:
            return None
        try:
            result = parse_recordings(body, keep, MAX_ANSWER_BYTES)
        except BbbError as exc:
            kind = exc.kind.value  # hostile, malformed, too_large
        else:
            if result.message_key != "checksumError":
                return result
            kind = "checksum"
        self._upstream_failed(server, "getRecordings", kind)
        return None

    def _answer(self, tenant: TenantConfig, root) -> bytes:
        """An upstream answer as the tenant sees it: its own meetingIDs, without the prefix."""
        for element in root.iter("meetingID"):
            if element.text and element.text.startswith(tenant.prefix):
                element.text = element.text[len(tenant.prefix):]
        return _serialize(root)

    def candidates(self, tenant: TenantConfig) -> list[ServerConfig]:
        """Where a new meeting may go: the tenant's server when it is active and up, then the
        region's other active servers that answer, most spare load units (last poll) first."""
        servers = self.config.servers
        home = servers.get(tenant.home or "")
        first = [home] if home and home.state == ServerState.ACTIVE and self.health[home.name].up else []
        others = [s for s in servers.values() if s.region == tenant.region and s is not home
                  and s.state == ServerState.ACTIVE and self.health[s.name].up]
        others.sort(key=lambda s: -self.health[s.name].spare)
        return first + others

    def _refuse(self, tenant: TenantConfig, cap: str, key: str, message: str) -> tuple[bytes, str]:
        self.metrics.refusals.labels(tenant.name, cap).inc()
        return protocol.failed(key, message), "refused"

    # --- calls ---------------------------------------------------------------------------

    async def create(self, tenant: TenantConfig, params: dict[str, str]) -> tuple[bytes, str]:
        meeting_id = params.get("meetingID", "")
        if not meeting_id:
            return protocol.failed("missingParamMeetingID", "You must specify a meeting ID for the meeting."), "failed"
        upstream_id = tenant.prefix + meeting_id
        if len(upstream_id) > 256 or "," in meeting_id or len(meeting_id) < 2:
            return protocol.failed("invalidMeetingIdentifier", f"Meeting ID must be 2 to "
                                   f"{256 - len(tenant.prefix)} characters, without commas."), "failed"
        forced = self._create_params(tenant, params, upstream_id)
        if isinstance(forced, bytes):
            return forced, "failed"
        reserved = await self.store.reserve_room(tenant.name, upstream_id, tenant.max_rooms)
        if reserved == FULL:
            return self._refuse(tenant, "rooms", "maxRoomsReached",
                                f"The plan's {tenant.max_rooms} rooms are in use; end one to start another.")
        if reserved == EXISTING:
            where = await self.store.where(upstream_id)
            if where in self.config.servers:  # create is idempotent where the meeting runs
                root = await self._fetch(self.config.servers[where], "create", forced)
                if root is not None:
                    return self._answer(tenant, root), "ok"
                return protocol.failed("serverUnavailable", "The meeting's server does not answer."), "upstream"
        for server in self.candidates(tenant):
            root = await self._fetch(server, "create", forced)
            if root is None:
                continue  # down: the next server of the region
            if root.findtext("returncode") == "SUCCESS":
                await self.store.set_where(upstream_id, server.name)
                return self._answer(tenant, root), "ok"
            if reserved != EXISTING:
                await self.store.release_room(tenant.name, upstream_id)
            return self._answer(tenant, root), "failed"
        if reserved != EXISTING:
            await self.store.release_room(tenant.name, upstream_id)
        return protocol.failed("serverUnavailable", "No server of the region can take the meeting now."), "upstream"

    def _create_params(self, tenant: TenantConfig, params: dict[str, str], upstream_id: str) -> dict[str, str] | bytes:
        out = {k: v for k, v in params.items() if k.lower() != "meta_tenant"}
        out["meetingID"] = upstream_id
        out["meta_tenant"] = tenant.name
        numbers = {}
        for key in ("duration", "maxParticipants", "meetingExpireIfNoUserJoinedInMinutes",
                    "meetingExpireWhenLastUserLeftInMinutes"):
            value = _int(params.get(key))
            if value == -1:
                return protocol.failed("invalidParameter", f"{key} must be a whole number of at most 9 digits.")
            numbers[key] = value
        duration = numbers["duration"]
        out["duration"] = str(tenant.max_minutes if not duration else min(duration, tenant.max_minutes))
        most = numbers["maxParticipants"]
        out["maxParticipants"] = str(tenant.max_users if not most else min(most, tenant.max_users))
        joined = numbers["meetingExpireIfNoUserJoinedInMinutes"]
        out["meetingExpireIfNoUserJoinedInMinutes"] = str(min(joined or MAX_EXPIRE_IF_NO_USER_JOINED,
                                                              MAX_EXPIRE_IF_NO_USER_JOINED))
        left = numbers["meetingExpireWhenLastUserLeftInMinutes"]
        out["meetingExpireWhenLastUserLeftInMinutes"] = str(min(left or MAX_EXPIRE_WHEN_LAST_USER_LEFT,
                                                                MAX_EXPIRE_WHEN_LAST_USER_LEFT))
        return callbacks.rewrite_create(out, self.config.public_url, tenant.name, tenant.secret)

    async def _located(self, tenant: TenantConfig, params: dict[str, str]) -> tuple[str, ServerConfig | None]:
        upstream_id = tenant.prefix + params.get("meetingID", "")
        where = await self.store.where(upstream_id)
        return upstream_id, self.config.servers.get(where or "")

    async def join(self, tenant: TenantConfig, params: dict[str, str]) -> tuple[bytes | web.StreamResponse, str]:
        if not params.get("fullName"):
            return protocol.failed("missingParamFullName", "You must specify a name for the attendee who will be "
                                                           "joining."), "failed"
        upstream_id, server = await self._located(tenant, params)
        if server is None:
            return NOT_FOUND, "not_found"
        if not await self.store.try_join(tenant.name, tenant.max_users):
            return self._refuse(tenant, "users", "maxConcurrentUsersReached",
                                f"The plan's {tenant.max_users} concurrent users are in meetings.")
        # BBB's join sends the browser on; so does the gateway, to the server, re-signed
        location = server.endpoint.url("join", {**params, "meetingID": upstream_id})
        return web.Response(status=302, headers={"Location": location}), "ok"

    async def end(self, tenant: TenantConfig, params: dict[str, str]) -> tuple[bytes, str]:
        upstream_id, server = await self._located(tenant, params)
        if server is None:
            return NOT_FOUND, "not_found"
        root = await self._fetch(server, "end", {**params, "meetingID": upstream_id})
        if root is None:
            return protocol.failed("serverUnavailable", "The meeting's server does not answer."), "upstream"
        if root.findtext("returncode") == "SUCCESS" or root.findtext("messageKey") == "notFound":
            await self.store.release_room(tenant.name, upstream_id)
        return self._answer(tenant, root), "ok"

    async def get_meeting_info(self, tenant: TenantConfig, params: dict[str, str]) -> tuple[bytes, str]:
        upstream_id, server = await self._located(tenant, params)
        if server is None:
            return NOT_FOUND, "not_found"
        root = await self._fetch(server, "getMeetingInfo", {**params, "meetingID": upstream_id})
        if root is None:
            return protocol.failed("serverUnavailable", "The meeting's server does not answer."), "upstream"
        if root.findtext("returncode") == "SUCCESS" and root.findtext("metadata/tenant") != tenant.name:
            return NOT_FOUND, "not_found"
        return self._answer(tenant, root), "ok"

    async def is_meeting_running(self, tenant: TenantConfig, params: dict[str, str]) -> tuple[bytes, str]:
        upstream_id, server = await self._located(tenant, params)
        root = None if server is None else await self._fetch(server, "isMeetingRunning",
                                                              {**params, "meetingID": upstream_id})
        if root is None:
            return protocol.response("SUCCESS", protocol.leaves([("running", "false")])), "ok"
        return self._answer(tenant, root), "ok"

    def _tenant_servers(self, tenant: TenantConfig) -> list[ServerConfig]:
        """Every server a tenant's meetings may run on (its own, and its region's, where create
        may fall back), whatever their state: the ones its meetings and recordings are on."""
        return [s for s in self.config.servers.values() if s.region == tenant.region or s.name == tenant.home]

    async def get_meetings(self, tenant: TenantConfig, _params: dict[str, str]) -> tuple[bytes, str]:
        servers = self._tenant_servers(tenant)
        roots = await asyncio.gather(*(self._fetch(s, "getMeetings", {}) for s in servers))
        mine = []
        for root in roots:
            if root is None:
                continue
            for meeting in root.iterfind("meetings/meeting"):
                if (meeting.findtext("metadata/tenant") == tenant.name
                        and (meeting.findtext("meetingID") or "").startswith(tenant.prefix)):
                    mine.append(meeting)
        if not mine:
            body = protocol.leaves([("meetings", ""), ("messageKey", "noMeetings"),
                                    ("message", "no meetings were found on this server")])
            return protocol.response("SUCCESS", body), "ok"
        for meeting in mine:
            element = meeting.find("meetingID")
            element.text = element.text[len(tenant.prefix):]
        inner = b"".join(_serialize(m) for m in mine)
        return b"<response><returncode>SUCCESS</returncode><meetings>" + inner + b"</meetings></response>", "ok"


    # --- BBB's recording-ready callback ------------------------------------------------------

    async def recording_ready(self, request: web.Request) -> web.Response:
        """A BBB server's POST for a published recording, passed on to the URL the tenant gave
        at create with the JWT re-signed for it (callbacks.py). Answered with the front end's
        own status (BBB's script logs 404 and 410 apart), 404 for anything the gateway did not
        issue, 502 when the front end does not answer."""
        started = time.perf_counter()
        status, outcome = await self._recording_ready(request)
        self._count("recordingReady", outcome, started)
        return web.Response(status=status)

    async def _callback_target_refused(self, target: str) -> str | None:
        """callbacks.target_refused for what the target's host name resolves to now."""
        url = URL(target)
        try:
            async with asyncio.timeout(self.timeout):
                infos = await asyncio.get_running_loop().getaddrinfo(url.host, url.port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError):
            return "the front end's host name does not resolve"
        try:
            return callbacks.target_refused([info[4][0] for info in infos], self.config.callback_networks)
        except callbacks.CallbackRefused as exc:
            return str(exc)

    async def _recording_ready(self, request: web.Request) -> tuple[int, str]:
        tenant = self.config.tenants.get(request.match_info["tenant"])
        if tenant is None:
            return 404, "not_found"
        try:
            target = callbacks.unseal(tenant.secret, request.match_info["token"])
            form = await request.post()
            signed = form.get("signed_parameters")
            if not isinstance(signed, str):
                raise callbacks.CallbackRefused("no signed_parameters in the form")
            resigned = callbacks.resign(signed, [s.endpoint.secret for s in self._tenant_servers(tenant)],
                                        tenant.prefix, tenant.secret)
        except callbacks.CallbackRefused as exc:
            log.warning("recording-ready callback for %s refused: %s", tenant.name, exc)
            return 404, "refused"
        refused = await self._callback_target_refused(target)
        if refused:
            log.warning("recording-ready callback for %s refused: %s", tenant.name, refused)
            return 403, "refused"
        try:
            async with asyncio.timeout(self.timeout):
                async with self.http.post(target, data={"signed_parameters": resigned},
                                          allow_redirects=False) as answer:
                    await answer.read()
                    return answer.status, "ok" if answer.status < 400 else "failed"
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("recording-ready callback for %s: the front end does not answer (%s)", tenant.name,
                        type(exc).__name__)
            return 502, "upstream"

    # --- recordings ------------------------------------------------------------------------

    @staticmethod
    def _owner(tenant: TenantConfig):
        """Whether a recording is the tenant's: as its meetings, namespaced and tagged (a
        recording keeps its meeting's meetingID and meta_ tags)."""
        def keep(recording) -> bool:
            return (recording.findtext("metadata/tenant") == tenant.name
                    and (recording.findtext("meetingID") or "").startswith(tenant.prefix))
        return keep

    @staticmethod
    def _recording_filters(tenant: TenantConfig, params: dict[str, str]) -> dict[str, str]:
        """getRecordings' filters as the servers get them: meetingIDs namespaced, the tenant's
        tag forced (BBB filters by it: less to scan and send), offset and limit left out."""
        out = {}
        for key, value in params.items():
            if key in ("recordID", "state"):
                out[key] = value
            elif key == "meetingID":
                out[key] = ",".join(tenant.prefix + m.strip() for m in value.split(",") if m.strip())
            elif key.lower().startswith("meta_") and key.lower() != "meta_tenant":
                out[key] = value
        out["meta_tenant"] = tenant.name
        return out

    def _as_tenant_sees_it(self, tenant: TenantConfig, recording) -> bytes:
        for path in ("meetingID", "metadata/meetingId"):
            element = recording.find(path)
            if element is not None and element.text and element.text.startswith(tenant.prefix):
                element.text = element.text[len(tenant.prefix):]
        return _serialize(recording)

    async def get_recordings(self, tenant: TenantConfig, params: dict[str, str]) -> tuple[bytes, str]:
        """Every server the tenant's meetings may have run on is asked (at once, each within the
        deadline); only the tenant's recordings are kept. One that does not answer makes the
        call fail rather than answer a partial list (a front end would take it for the whole)."""
        offset, limit = _int(params.get("offset")), _int(params.get("limit"))
        if offset == -1 or limit == -1 or (limit is not None and not 1 <= limit <= MAX_RECORDINGS_LIMIT):
            return protocol.failed("invalidParameter", "offset must be a whole number, limit one from 1 to "
                                   f"{MAX_RECORDINGS_LIMIT}."), "failed"
        filters, keep = self._recording_filters(tenant, params), self._owner(tenant)
        servers = self._tenant_servers(tenant)
        results = await asyncio.gather(*(self._fetch_recordings(s, filters, keep) for s in servers))
        if any(r is None for r in results):
            return protocol.failed("serverUnavailable", "A server that may hold the recordings does not answer; "
                                                        "try again later."), "upstream"
        mine = []
        for result in results:
            if result.fields.get("returncode") != "SUCCESS":
                return protocol.failed(result.message_key or "failed", result.fields.get("message", "")), "failed"
            mine += result.recordings
        mine = mine[offset or 0:][:limit]
        if not mine:
            return NO_RECORDINGS, "ok"
        inner = b"".join(self._as_tenant_sees_it(tenant, r) for r in mine)
        return b"<response><returncode>SUCCESS</returncode><recordings>" + inner + b"</recordings></response>", "ok"

    async def _owned(self, tenant: TenantConfig, record_ids: list[str]) -> dict[str, list[str]] | None:
        """{server: the given recordIDs that are the tenant's recordings there}, exact IDs only
        (BBB would take a recordID's first characters as a wildcard); None when a server
        that may hold some gives no answer."""
        wanted, owner = set(record_ids), self._owner(tenant)
        filters = {"recordID": ",".join(record_ids), "state": "any", "meta_tenant": tenant.name}
        servers = self._tenant_servers(tenant)
        results = await asyncio.gather(*(self._fetch_recordings(
            s, filters, lambda r: owner(r) and r.findtext("recordID") in wanted) for s in servers))
        owned: dict[str, list[str]] = {}
        for server, result in zip(servers, results, strict=True):
            if result is None or result.fields.get("returncode") != "SUCCESS":
                return None
            ids = list(dict.fromkeys(r.findtext("recordID") for r in result.recordings))
            if ids:
                owned[server.name] = ids
        return owned

    async def change_recordings(self, tenant: TenantConfig, call: str, params: dict[str, str]) -> tuple[bytes, str]:
        """publishRecordings, deleteRecordings, updateRecordings: forwarded, with only the tenant's
        recordIDs, to the servers holding them; none of them the tenant's answers BBB's notFound
        and reaches no server's call."""
        record_ids = list(dict.fromkeys(r.strip() for r in params.get("recordID", "").split(",") if r.strip()))
        if not record_ids:
            return MISSING_RECORD_ID, "failed"
        if call == "publishRecordings" and not params.get("publish"):
            return protocol.failed("missingParamPublish", "You must specify a publish value true or false."), "failed"
        owned = await self._owned(tenant, record_ids)
        if owned is None:
            return protocol.failed("serverUnavailable", "A server that may hold the recordings does not answer; "
                                                        "try again later."), "upstream"
        if not owned:
            return RECORDINGS_NOT_FOUND, "not_found"
        extra = {k: v for k, v in params.items() if k != "recordID"}
        if call == "updateRecordings":  # a recording's tenant tag is the gateway's, as a meeting's
            extra = {k: v for k, v in extra.items() if k.lower() != "meta_tenant"}
        servers = [self.config.servers[name] for name in owned]
        roots = await asyncio.gather(*(self._fetch(s, call, {"recordID": ",".join(owned[s.name]), **extra})
                                       for s in servers))
        if any(root is None for root in roots):
            return protocol.failed("serverUnavailable", "A server holding the recordings does not answer."), "upstream"
        for root in roots:
            if root.findtext("returncode") != "SUCCESS":
                return _serialize(root), "failed"
        return _serialize(roots[0]), "ok"


    async def get_recording_text_tracks(self, tenant: TenantConfig,
                                        params: dict[str, str]) -> tuple[bytes | web.StreamResponse, str]:
        """Forwarded to the server holding the recording when it is the tenant's; bbb-web answers
        it in JSON (RecMetaXmlHelper.scala), and so does the gateway: another tenant's recording,
        or nobody's, is bbb-web's noRecordings, and no server is sent the call."""
        record_id = params.get("recordID", "").strip()
        if not record_id:
            return MISSING_RECORD_ID, "failed"
        return await self._text_tracks_call(tenant, "getRecordingTextTracks", {**params, "recordID": record_id})

    async def put_recording_text_track(self, tenant: TenantConfig, params: dict[str, str],
                                       request: web.Request) -> tuple[bytes | web.Response, str]:
        """A caption file (multipart POST, the checksum over the query only) for one of the
        tenant's recordings, sent on as it came to the server holding it; JSON answers as
        bbb-web's. Another tenant's recording, or nobody's, is noRecordings and reaches no server."""
        record_id = params.get("recordID", "").strip()
        if not record_id:
            return _json({"returncode": "FAILED", "messageKey": "paramError",
                          "message": "Missing param recordID."}), "failed"
        chunks, size = [], 0
        if request.method == "POST" and request.can_read_body:
            # To its end, however the client's writes arrive; refused once past the limit.
            async for chunk in request.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    return _json({"returncode": "FAILED", "messageKey": "uploadTooLarge",
                                  "message": f"The text track is larger than {MAX_UPLOAD_BYTES // 1024 // 1024} MiB."}
                                 ), "failed"
                chunks.append(chunk)
        body = b"".join(chunks)
        upload = (body, request.headers.get("Content-Type", "application/octet-stream"))
        return await self._text_tracks_call(tenant, "putRecordingTextTrack", {**params, "recordID": record_id},
                                            upload=upload)

    async def _text_tracks_call(self, tenant: TenantConfig, call: str, params: dict[str, str], *,
                                upload: tuple[bytes, str] | None = None) -> tuple[bytes | web.Response, str]:
        """A text-track call for one recordID, sent to the server holding it when it is the
        tenant's (exact ID); bbb-web's JSON answer passed on (re-encoded, nothing added)."""
        record_id = params["recordID"]
        owned = await self._owned(tenant, [record_id])
        if owned is None:
            return protocol.failed("serverUnavailable", "A server that may hold the recording does not "
                                                                 "answer; try again later."), "upstream"
        if not owned:
            return _json({"returncode": "FAILED", "messageKey": "noRecordings",
                          "message": f"No recording found for {record_id}"}), "not_found"
        server = self.config.servers[next(iter(owned))]
        body = await self._receive(server, call, params, upload=upload)
        if body is None:
            return protocol.failed("serverUnavailable", "The recording's server does not answer."), "upstream"
        try:
            answer = json.loads(body)
        except ValueError:  # bbb-web's XML refusals (a checksum error among them), or garbage
            answer = None
        response = answer.get("response") if isinstance(answer, dict) else None
        if not isinstance(response, dict) or not isinstance(response.get("returncode"), str):
            self._upstream_failed(server, call, "checksum" if b"checksumError" in body else "malformed")
            return protocol.failed("serverUnavailable", "The recording's server gave no usable answer."), \
                "upstream"
        return _json(response), "ok" if response["returncode"] == "SUCCESS" else "failed"


def _json(response: dict) -> web.Response:
    return web.Response(body=json.dumps({"response": response}).encode("utf-8"),
                        headers={"Content-Type": "application/json;charset=utf-8"})


class _Upstream(Exception):
    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def _serialize(element) -> bytes:
    from xml.etree.ElementTree import tostring

    return tostring(element, encoding="utf-8", xml_declaration=False)
