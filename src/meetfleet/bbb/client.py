"""Async BBB API client: checksummed GETs, a deadline that measures the server, bounded answers.

One `BbbClient` (one httpx connection pool) serves every server; each call names its
`BbbEndpoint`. At most `max_connections` calls are under way at once; a call waiting for
its turn is not on the clock. The deadline (`timeout`) covers what the server does:
connecting, the wait for the first byte, every stall between chunks, the whole answer
received. Parsing comes after the clock stops, so how busy this process is does not
make a server late. Errors are `BbbError` with a kind, never carrying the URL or the secret.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self

import httpx

from meetfleet.bbb.checksum import ALGORITHMS, sign_query
from meetfleet.bbb.errors import BbbError, ErrorKind
from meetfleet.bbb.models import CallResult, Meeting
from meetfleet.bbb.parsing import (
    DEFAULT_MAX_BYTES,
    RecordingsResult,
    check_returncode,
    meeting_from_fields,
    parse_recordings,
    parse_response,
)

DEFAULT_TIMEOUT = 5.0

try:
    import sniffio  # noqa: F401
except ImportError:
    # httpcore tries `import sniffio` at every request; when it is not installed each
    # failed import searches sys.path again (0.75 ms a request, measured). None in
    # sys.modules makes the failure immediate; httpcore then assumes asyncio, as it does anyway.
    sys.modules["sniffio"] = None  # type: ignore[assignment]


@dataclass(frozen=True)
class BbbEndpoint:
    """Where a BBB server's API is and how to sign calls to it."""

    api_url: str  # e.g. https://bbb.example.coop/bigbluebutton/api
    secret: str = field(repr=False)
    algorithm: str = "sha256"

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown checksum algorithm {self.algorithm!r} (one of: {', '.join(ALGORITHMS)})")

    def url(self, call: str, params: Mapping[str, str] | None = None) -> str:
        query = sign_query(call, params or {}, self.secret, self.algorithm)
        return f"{self.api_url.rstrip('/')}/{call}?{query}"


@dataclass(frozen=True, slots=True)
class Answer:
    """A call's raw answer (HTTP 200, at most the client's byte cap), not yet parsed."""

    body: bytes
    seconds: float  # from connecting (or sending, on a kept-alive connection) to the last byte


class BbbClient:
    """Calls BBB servers. Use as `async with BbbClient() as client:`."""

    def __init__(
        self,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_connections: int = 100,
        verify: bool | str = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_connections = max_connections
        # Calls take turns here rather than in httpx's pool, whose wait would count
        # against the call's timeout (at 200 servers, half the fleet "timed out" queueing).
        self._turns = asyncio.Semaphore(max_connections)
        # One small httpx pool per server, not one shared pool: httpcore scans its whole pool
        # (quadratically) at every request and answer, which at 1,000 servers took more CPU
        # than parsing. One TLS context for all (creating one costs ~20 ms and ~1 MB).
        self._verify = verify if transport is not None else httpx.create_ssl_context(verify=verify)
        self._transport = transport
        self._pools: dict[str, httpx.AsyncClient] = {}

    def _pool_for(self, url: str) -> httpx.AsyncClient:
        origin = "/".join(url.split("/", 3)[:3])  # scheme://host[:port]
        pool = self._pools.get(origin) or self._pools.get("*")
        if pool is None:
            # Between polls a connection is kept open to the first max_connections servers
            # only, so open sockets stay bounded whatever the fleet's size.
            keep = 1 if len(self._pools) < self.max_connections else 0
            pool = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, pool=None),
                limits=httpx.Limits(max_connections=self.max_connections, max_keepalive_connections=keep),
                verify=self._verify,
                transport=self._transport,
                follow_redirects=False,
                headers={"User-Agent": "meetfleet"},
            )
            self._pools["*" if self._transport is not None else origin] = pool
        return pool

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()

    async def fetch(self, endpoint: BbbEndpoint, call: str, params: Mapping[str, str] | None = None,
                    *, timeout: float | None = None) -> Answer:
        """One API call's raw answer; raises BbbError (with `seconds` on the clock) if there is none."""
        deadline = self.timeout if timeout is None else timeout
        url = endpoint.url(call, params)
        async with self._turns:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(deadline):
                    body = await self._receive(url, deadline)
            except TimeoutError:
                error = BbbError(ErrorKind.TIMEOUT, f"{call}: no complete answer within {deadline:g} s")
            except httpx.TimeoutException:
                error = BbbError(ErrorKind.TIMEOUT, f"{call}: timed out after {deadline:g} s")
            except httpx.HTTPError as exc:
                # Only the exception type and its short reason: str(exc) of some httpx errors holds the URL.
                error = BbbError(ErrorKind.CONNECT, f"{call}: {type(exc).__name__}")
            except BbbError as exc:
                error = exc
            else:
                return Answer(body, time.perf_counter() - started)
        error.seconds = time.perf_counter() - started
        raise error

    async def call(self, endpoint: BbbEndpoint, call: str, params: Mapping[str, str] | None = None,
                   *, timeout: float | None = None) -> CallResult:
        """One API call; raises BbbError unless the answer is a SUCCESS response."""
        answer = await self.fetch(endpoint, call, params, timeout=timeout)
        return check_returncode(parse_response(answer.body, self.max_bytes))

    async def _receive(self, url: str, deadline: float) -> bytes:
        async with self._pool_for(url).stream("GET", url, timeout=deadline) as response:
            if response.status_code != 200:
                raise BbbError(ErrorKind.HTTP, f"HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise BbbError(ErrorKind.TOO_LARGE, f"answer of {int(declared)} bytes exceeds {self.max_bytes}")
            chunks, received = [], 0
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > self.max_bytes:
                    raise BbbError(ErrorKind.TOO_LARGE, f"answer exceeds {self.max_bytes} bytes")
                chunks.append(chunk)
        return b"".join(chunks)

    async def get_meetings(self, endpoint: BbbEndpoint, *, timeout: float | None = None) -> list[Meeting]:
        """Every meeting on the server (an empty list for noMeetings)."""
        return (await self.call(endpoint, "getMeetings", timeout=timeout)).meetings

    async def get_recordings(self, endpoint: BbbEndpoint, params: Mapping[str, str] | None = None, *,
                             keep=None, timeout: float | None = None) -> RecordingsResult:
        """getRecordings (filters as BBB takes them: meetingID, recordID, state, meta_*); the
        recordings `keep` accepts, as elements (an empty list for noRecordings)."""
        answer = await self.fetch(endpoint, "getRecordings", params, timeout=timeout)
        result = parse_recordings(answer.body, keep, self.max_bytes)
        if result.fields.get("returncode") != "SUCCESS":
            check_returncode(CallResult(fields=result.fields, metadata={}, meetings=[]))
        return result

    async def get_meeting_info(self, endpoint: BbbEndpoint, meeting_id: str) -> Meeting:
        result = await self.call(endpoint, "getMeetingInfo", {"meetingID": meeting_id})
        try:
            return meeting_from_fields(result.fields, result.metadata, result.breakout_ids)
        except ValueError as exc:
            raise BbbError(ErrorKind.MALFORMED, str(exc)) from None

    async def is_meeting_running(self, endpoint: BbbEndpoint, meeting_id: str) -> bool:
        result = await self.call(endpoint, "isMeetingRunning", {"meetingID": meeting_id})
        return result.fields.get("running") == "true"

    async def create(self, endpoint: BbbEndpoint, meeting_id: str, name: str, *,
                     max_participants: int = 0, duration_minutes: int = 0,
                     metadata: Mapping[str, str] | None = None,
                     extra: Mapping[str, str] | None = None) -> CallResult:
        """Create (or, for an existing meetingID, find) a meeting; metadata keys become meta_KEY."""
        params = {"name": name, "meetingID": meeting_id,
                  "maxParticipants": str(max_participants), "duration": str(duration_minutes)}
        params.update({f"meta_{key}": value for key, value in (metadata or {}).items()})
        params.update(extra or {})
        return await self.call(endpoint, "create", params)

    async def end(self, endpoint: BbbEndpoint, meeting_id: str) -> CallResult:
        return await self.call(endpoint, "end", {"meetingID": meeting_id})

    @staticmethod
    def join_url(endpoint: BbbEndpoint, meeting_id: str, full_name: str, role: str = "VIEWER",
                 extra: Mapping[str, str] | None = None) -> str:
        """The URL a browser opens to join (join answers with a redirect, not XML)."""
        return endpoint.url("join", {"meetingID": meeting_id, "fullName": full_name, "role": role, **(extra or {})})
