"""The client against the BBB API test server (a stand-in for BBB, running in this process)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from meetfleet.bbb import BbbClient, BbbEndpoint, BbbError, ErrorKind
from meetfleet.bbb.checksum import ALGORITHMS
from meetfleet.testing.bbb_standin import TestServer, uniform_scenario
from tests.bbb.conftest import SECRET, Clock


def run(coro):
    return asyncio.run(coro)


async def _with_client(func, timeout: float = 2.0, **kwargs):
    async with BbbClient(timeout, **kwargs) as client:
        return await func(client)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_checksum_algorithm_is_accepted(bbb: TestServer, algorithm: str) -> None:
    bbb.seed(uniform_scenario(2, 3))
    endpoint = BbbEndpoint(bbb.api_url, SECRET, algorithm)
    meetings = run(_with_client(lambda c: c.get_meetings(endpoint)))
    assert sorted(m.meeting_id for m in meetings) == ["meeting-1", "meeting-2"]


def test_algorithm_the_server_does_not_allow_is_a_checksum_error(clock: Clock) -> None:
    server = TestServer(SECRET, algorithms=("sha1",), clock=clock).start()
    try:
        endpoint = BbbEndpoint(server.api_url, SECRET, "sha512")
        with pytest.raises(BbbError) as err:
            run(_with_client(lambda c: c.get_meetings(endpoint)))
        assert err.value.kind is ErrorKind.CHECKSUM
    finally:
        server.stop()


def test_wrong_secret_is_a_checksum_error_without_the_secret_in_it(bbb: TestServer) -> None:
    endpoint = BbbEndpoint(bbb.api_url, "not-the-secret", "sha256")
    with pytest.raises(BbbError) as err:
        run(_with_client(lambda c: c.get_meetings(endpoint)))
    assert err.value.kind is ErrorKind.CHECKSUM
    assert "not-the-secret" not in str(err.value) and "checksum=" not in str(err.value)
    assert "not-the-secret" not in repr(endpoint)


def test_no_meetings_is_an_empty_list(endpoint: BbbEndpoint) -> None:
    assert run(_with_client(lambda c: c.get_meetings(endpoint))) == []


def test_meeting_lifecycle_create_join_info_running_end(endpoint: BbbEndpoint) -> None:
    async def scenario(client: BbbClient):
        created = await client.create(endpoint, "room-1", "Room 1", metadata={"Tenant": "acme"},
                                      max_participants=10, duration_minutes=60)
        assert created.fields["meetingID"] == "room-1" and created.message_key == ""
        again = await client.create(endpoint, "room-1", "Room 1")
        assert again.message_key == "duplicateWarning"
        assert not await client.is_meeting_running(endpoint, "room-1")
        for name, audio in (("Ann", "voice"), ("Bob", "listen")):
            url = client.join_url(endpoint, "room-1", name, "MODERATOR", {"standin_audio": audio})
            joined = await client.call(endpoint, "join", _query_params(url))
            assert joined.message_key == "successfullyJoined"
        assert await client.is_meeting_running(endpoint, "room-1")
        info = await client.get_meeting_info(endpoint, "room-1")
        assert (info.participants, info.voice, info.listeners, info.moderators) == (2, 1, 1, 2)
        assert info.metadata == {"tenant": "acme"}  # BBB lower-cases meta_ names
        assert (info.max_users, info.duration_minutes) == (10, 60)
        ended = await client.end(endpoint, "room-1")
        assert ended.message_key == "sentEndMeetingRequest"
        assert not await client.is_meeting_running(endpoint, "room-1")
        with pytest.raises(BbbError) as err:
            await client.get_meeting_info(endpoint, "room-1")
        assert err.value.kind is ErrorKind.FAILED and err.value.message_key == "notFound"

    run(_with_client(scenario))


def _query_params(url: str) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit
    return {k: v for k, v in parse_qsl(urlsplit(url).query) if k != "checksum"}


def test_max_participants_is_honoured(endpoint: BbbEndpoint) -> None:
    async def scenario(client: BbbClient):
        await client.create(endpoint, "small", "Small", max_participants=2)
        for name in ("a", "b"):
            await client.call(endpoint, "join", {"meetingID": "small", "fullName": name})
        with pytest.raises(BbbError) as err:
            await client.call(endpoint, "join", {"meetingID": "small", "fullName": "c"})
        assert err.value.message_key == "maxParticipantsReached"
        assert (await client.get_meeting_info(endpoint, "small")).participants == 2

    run(_with_client(scenario))


def test_duration_ends_the_meeting(endpoint: BbbEndpoint, clock: Clock) -> None:
    async def scenario(client: BbbClient):
        await client.create(endpoint, "timed", "Timed", duration_minutes=30)
        await client.call(endpoint, "join", {"meetingID": "timed", "fullName": "a"})
        clock.now += 29 * 60
        assert await client.is_meeting_running(endpoint, "timed")
        clock.now += 60
        assert not await client.is_meeting_running(endpoint, "timed")
        assert await client.get_meetings(endpoint) == []

    run(_with_client(scenario))


def test_slow_server_times_out_within_the_deadline(bbb: TestServer, endpoint: BbbEndpoint) -> None:
    bbb.faults.delay = 5.0
    started = time.perf_counter()
    with pytest.raises(BbbError) as err:
        run(_with_client(lambda c: c.get_meetings(endpoint), timeout=0.3))
    assert err.value.kind is ErrorKind.TIMEOUT
    assert time.perf_counter() - started < 3.0  # the 0.3 s deadline, not the 5 s server


def test_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = BbbEndpoint(f"http://127.0.0.1:{port}/bigbluebutton/api", SECRET)
    with pytest.raises(BbbError) as err:
        run(_with_client(lambda c: c.get_meetings(endpoint)))
    assert err.value.kind is ErrorKind.CONNECT


def test_wrong_path_is_an_http_error(bbb: TestServer) -> None:
    endpoint = BbbEndpoint(bbb.api_url.replace("/bigbluebutton/api", "/nope"), SECRET)
    with pytest.raises(BbbError) as err:
        run(_with_client(lambda c: c.get_meetings(endpoint)))
    assert err.value.kind is ErrorKind.HTTP and "404" in str(err.value)


@pytest.mark.parametrize(("fault", "kind"), [
    ("fail", ErrorKind.FAILED), ("garbage", ErrorKind.MALFORMED),
    ("hostile", ErrorKind.HOSTILE), ("wrong-checksum", ErrorKind.CHECKSUM),
])
def test_injected_faults_have_their_kind(bbb: TestServer, endpoint: BbbEndpoint, fault: str, kind: ErrorKind) -> None:
    bbb.faults.mode = fault
    with pytest.raises(BbbError) as err:
        run(_with_client(lambda c: c.get_meetings(endpoint)))
    assert err.value.kind is kind


def test_answer_over_the_byte_cap_is_too_large(bbb: TestServer, endpoint: BbbEndpoint) -> None:
    bbb.seed(uniform_scenario(50, 5))
    with pytest.raises(BbbError) as err:
        run(_with_client(lambda c: c.get_meetings(endpoint), max_bytes=20_000))
    assert err.value.kind is ErrorKind.TOO_LARGE


def test_waiting_for_a_connection_is_not_on_the_clock(bbb: TestServer, endpoint: BbbEndpoint) -> None:
    """Two calls, one connection, each 0.3 s of server time against a 0.5 s timeout: the
    second waits its turn (0.3 s) off the clock, and both are timed as the server took."""
    bbb.faults.delay = 0.3

    async def both(client: BbbClient):
        return await asyncio.gather(*(client.fetch(endpoint, "getMeetings") for _ in range(2)))

    answers = run(_with_client(both, timeout=0.5, max_connections=1))
    assert [b"<returncode>SUCCESS</returncode>" in a.body for a in answers] == [True, True]
    assert all(0.3 <= a.seconds < 0.5 for a in answers), [a.seconds for a in answers]


def test_timeout_is_counted_from_the_connection_not_the_queue(bbb: TestServer, endpoint: BbbEndpoint) -> None:
    bbb.faults.delay = 0.6  # slower than the 0.5 s timeout: each call fails on its own clock

    async def both(client: BbbClient):
        return await asyncio.gather(*(client.fetch(endpoint, "getMeetings") for _ in range(2)),
                                    return_exceptions=True)

    errors = run(_with_client(both, timeout=0.5, max_connections=1))
    assert [e.kind for e in errors] == [ErrorKind.TIMEOUT, ErrorKind.TIMEOUT]
    assert all(0.5 <= e.seconds < 0.9 for e in errors), [e.seconds for e in errors]
