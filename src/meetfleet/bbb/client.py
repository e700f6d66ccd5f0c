"""Async BBB API client: checksummed GETs, a deadline on every call, streamed parsing.

One `BbbClient` (one httpx connection pool) serves every server; each call names its
`BbbEndpoint`. Errors are `BbbError` with a kind, never carrying the URL or the secret.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self

import httpx

from meetfleet.bbb.checksum import ALGORITHMS, sign_query
from meetfleet.bbb.errors import BbbError, ErrorKind
from meetfleet.bbb.models import CallResult, Meeting
from meetfleet.bbb.parsing import DEFAULT_MAX_BYTES, ResponseParser, check_returncode, meeting_from_fields

DEFAULT_TIMEOUT = 5.0


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
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            verify=verify,
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": "meetfleet"},
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, endpoint: BbbEndpoint, call: str, params: Mapping[str, str] | None = None,
                   *, timeout: float | None = None) -> CallResult:
        """One API call; raises BbbError unless the answer is a SUCCESS response."""
        deadline = self.timeout if timeout is None else timeout
        url = endpoint.url(call, params)
        try:
            async with asyncio.timeout(deadline):
                return check_returncode(await self._fetch(url, deadline))
        except TimeoutError:
            raise BbbError(ErrorKind.TIMEOUT, f"{call}: no complete answer within {deadline:g} s") from None
        except httpx.TimeoutException:
            raise BbbError(ErrorKind.TIMEOUT, f"{call}: timed out after {deadline:g} s") from None
        except httpx.HTTPError as exc:
            # Only the exception type and its short reason: str(exc) of some httpx errors holds the URL.
            reason = type(exc).__name__
            raise BbbError(ErrorKind.CONNECT, f"{call}: {reason}") from None

    async def _fetch(self, url: str, deadline: float) -> CallResult:
        parser = ResponseParser(self.max_bytes)
        async with self._http.stream("GET", url, timeout=deadline) as response:
            if response.status_code != 200:
                raise BbbError(ErrorKind.HTTP, f"HTTP {response.status_code}")
            async for chunk in response.aiter_bytes():
                parser.feed(chunk)
        return parser.close()

    async def get_meetings(self, endpoint: BbbEndpoint, *, timeout: float | None = None) -> list[Meeting]:
        """Every meeting on the server (an empty list for noMeetings)."""
        return (await self.call(endpoint, "getMeetings", timeout=timeout)).meetings

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
