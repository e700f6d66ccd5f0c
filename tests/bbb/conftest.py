"""A BBB API test server (the stand-in) on an ephemeral 127.0.0.1 port, per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from meetfleet.bbb import BbbEndpoint
from meetfleet.testing.bbb_standin import TestServer

SECRET = "test-secret-0123456789"


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bbb(clock: Clock) -> Iterator[TestServer]:
    server = TestServer(SECRET, clock=clock).start()
    yield server
    server.stop()


@pytest.fixture
def endpoint(bbb: TestServer) -> BbbEndpoint:
    return BbbEndpoint(bbb.api_url, SECRET, "sha256")
