"""Parsing answers in worker processes, so polling uses the machine's cores.

The event loop only receives answers (bytes, at most the byte cap each); a pool of worker
processes parses them with the same hardened parser (meetfleet.bbb.parsing) and counts
the server's usage, sending back only the small `ServerUsage`. So parsing a large fleet
neither holds up the event loop, which keeps every server's clock honest, nor is
limited to one core by the interpreter lock.

Memory stays bounded: at most `pending` answers are held (received, waiting for a
worker, or being parsed) at once; a poll waits for its turn before it starts, off the
server's clock.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from capacity_exporter.usage import ServerUsage, TenantDirectory, summarise
from meetfleet.bbb import BbbError, ErrorKind
from meetfleet.bbb.parsing import DEFAULT_MAX_BYTES, check_returncode, parse_response

log = logging.getLogger("meetfleet.exporter")

DEFAULT_PENDING = 100  # the client's default number of connections: one answer per connection


def default_workers() -> int:
    """One worker per core this process may run on (its CPU affinity, not the whole machine's)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # not Linux
        return max(os.cpu_count() or 1, 1)


def usage_of_answer(body: bytes, directory: TenantDirectory, now_ms: int,
                    max_bytes: int = DEFAULT_MAX_BYTES) -> ServerUsage:
    """A getMeetings answer to the server's usage; BbbError if the answer is not a usable one."""
    meetings = check_returncode(parse_response(body, max_bytes)).meetings
    return summarise(meetings, directory, now_ms)


_directory: TenantDirectory | None = None  # each worker's copy, given once at its start


def _start_worker(directory: TenantDirectory) -> None:
    global _directory
    _directory = directory
    # Ctrl-C reaches the whole process group, systemd's SIGTERM the whole cgroup: the main
    # process finishes its polls and then stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _in_worker(body: bytes, now_ms: int, max_bytes: int) -> ServerUsage:
    assert _directory is not None
    return usage_of_answer(body, _directory, now_ms, max_bytes)


class AnswerParser:
    """Parses answers into usage: in `workers` processes, or in the calling thread with 0."""

    def __init__(self, directory: TenantDirectory, workers: int | None = None, *,
                 max_bytes: int = DEFAULT_MAX_BYTES, pending: int = DEFAULT_PENDING):
        self.directory = directory
        self.workers = default_workers() if workers is None else workers
        self.max_bytes = max_bytes
        self.turns = asyncio.Semaphore(pending)
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False
        if self.workers:
            self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # forkserver: workers are forked from a small clean process, never from this one
        # with its threads (the HTTP server's, asyncio's), which fork does not copy safely.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["capacity_exporter.workers"])
        return ProcessPoolExecutor(self.workers, mp_context=context, initializer=_start_worker,
                                   initargs=(self.directory,))

    async def usage(self, body: bytes, now_ms: int) -> ServerUsage:
        if self._pool is None:
            return usage_of_answer(body, self.directory, now_ms, self.max_bytes)
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            pool = self._pool
            try:
                return await loop.run_in_executor(pool, _in_worker, body, now_ms, self.max_bytes)
            except BrokenProcessPool:
                # A worker died (killed, out of memory): every answer it had is lost. Start a
                # new pool and try once more; an answer that kills a worker twice is refused.
                if self._closed:
                    raise BbbError(ErrorKind.MALFORMED, "the exporter is stopping") from None
                if self._pool is pool:
                    log.warning("a parsing worker died; starting new workers")
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._new_pool()
                if attempt == 2:
                    raise BbbError(ErrorKind.MALFORMED, "the answer's parsing worker died twice") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
