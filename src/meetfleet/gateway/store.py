"""The counters the caps are checked against: in memory for one instance, in Redis for several.

Per tenant: its rooms (a set of upstream meetingIDs, each with when it was reserved) and
its concurrent users (the last poll's count plus the joins issued since). Beside them,
where each meeting runs. The checks that guard a cap are atomic: in Redis one Lua script
tests and reserves, so two instances racing creates cannot both take the last room.
"""

from __future__ import annotations

import time
from typing import Protocol

# A room reserved by a create that the servers do not list yet (the create is in flight,
# or answered after the poll started) is kept this long before a poll may drop it.
RESERVATION_GRACE = 30.0

NEW, EXISTING, FULL = "new", "existing", "full"


class Store(Protocol):
    async def reserve_room(self, tenant: str, meeting: str, cap: int) -> str: ...
    async def release_room(self, tenant: str, meeting: str) -> None: ...
    async def rooms(self, tenant: str) -> int: ...
    async def where(self, meeting: str) -> str | None: ...
    async def set_where(self, meeting: str, server: str) -> None: ...
    async def try_join(self, tenant: str, cap: int) -> bool: ...
    async def users(self, tenant: str) -> int: ...
    async def sync(self, tenant: str, meetings: dict[str, str], users: int) -> None: ...
    async def close(self) -> None: ...


class MemoryStore:
    """One gateway instance: asyncio runs one handler at a time between awaits, so a check
    and its update (no await between them) are atomic."""

    def __init__(self, clock=time.time):
        self.clock = clock
        self._rooms: dict[str, dict[str, float]] = {}
        self._users: dict[str, int] = {}
        self._where: dict[str, str] = {}

    async def reserve_room(self, tenant: str, meeting: str, cap: int) -> str:
        rooms = self._rooms.setdefault(tenant, {})
        if meeting in rooms:
            return EXISTING
        if len(rooms) >= cap:
            return FULL
        rooms[meeting] = self.clock()
        return NEW

    async def release_room(self, tenant: str, meeting: str) -> None:
        self._rooms.get(tenant, {}).pop(meeting, None)
        self._where.pop(meeting, None)

    async def rooms(self, tenant: str) -> int:
        return len(self._rooms.get(tenant, {}))

    async def where(self, meeting: str) -> str | None:
        return self._where.get(meeting)

    async def set_where(self, meeting: str, server: str) -> None:
        self._where[meeting] = server

    async def try_join(self, tenant: str, cap: int) -> bool:
        if self._users.get(tenant, 0) + 1 > cap:
            return False
        self._users[tenant] = self._users.get(tenant, 0) + 1
        return True

    async def users(self, tenant: str) -> int:
        return self._users.get(tenant, 0)

    async def sync(self, tenant: str, meetings: dict[str, str], users: int) -> None:
        rooms = self._rooms.setdefault(tenant, {})
        stale = self.clock() - RESERVATION_GRACE
        for meeting, reserved in list(rooms.items()):
            if meeting not in meetings and reserved < stale:
                del rooms[meeting]
                self._where.pop(meeting, None)
        for meeting, server in meetings.items():
            rooms.setdefault(meeting, 0.0)
            self._where[meeting] = server
        self._users[tenant] = users

    async def close(self) -> None:
        return None


_RESERVE = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 2 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""
_JOIN = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n + 1 > tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
return 1
"""
# KEYS: rooms, users, where; ARGV: stale-before, users, then meeting, server pairs
_SYNC = """
local seen = {}
for i = 3, #ARGV, 2 do seen[ARGV[i]] = ARGV[i + 1] end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])) do
  if not seen[m] then
    redis.call('ZREM', KEYS[1], m)
    redis.call('HDEL', KEYS[3], m)
  end
end
for m, s in pairs(seen) do
  redis.call('ZADD', KEYS[1], 'NX', 0, m)
  redis.call('HSET', KEYS[3], m, s)
end
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""


class RedisStore:
    """Several gateway instances behind one name, one Redis: the same counters for all."""

    def __init__(self, url: str, prefix: str = "meetfleet:gateway:", clock=time.time, timeout: float = 2.0,
                 password: str | None = None):
        import redis.asyncio as aioredis

        self.clock = clock
        self.prefix = prefix
        # `password` beside the URL, which holds none (redis-py lets the URL's win).
        self.redis = aioredis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                             decode_responses=True, password=password)
        self._reserve = self.redis.register_script(_RESERVE)
        self._join = self.redis.register_script(_JOIN)
        self._sync = self.redis.register_script(_SYNC)

    def _key(self, kind: str, tenant: str) -> str:
        return f"{self.prefix}{kind}:{tenant}"

    @property
    def _where_key(self) -> str:
        return f"{self.prefix}where"

    async def ping(self) -> None:
        await self.redis.ping()

    async def reserve_room(self, tenant: str, meeting: str, cap: int) -> str:
        result = await self._reserve(keys=[self._key("rooms", tenant)], args=[meeting, cap, self.clock()])
        return {0: FULL, 1: NEW, 2: EXISTING}[int(result)]

    async def release_room(self, tenant: str, meeting: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            await pipe.zrem(self._key("rooms", tenant), meeting).hdel(self._where_key, meeting).execute()

    async def rooms(self, tenant: str) -> int:
        return int(await self.redis.zcard(self._key("rooms", tenant)))

    async def where(self, meeting: str) -> str | None:
        return await self.redis.hget(self._where_key, meeting)

    async def set_where(self, meeting: str, server: str) -> None:
        await self.redis.hset(self._where_key, meeting, server)

    async def try_join(self, tenant: str, cap: int) -> bool:
        return int(await self._join(keys=[self._key("users", tenant)], args=[cap])) == 1

    async def users(self, tenant: str) -> int:
        return int(await self.redis.get(self._key("users", tenant)) or 0)

    async def sync(self, tenant: str, meetings: dict[str, str], users: int) -> None:
        args: list[object] = [self.clock() - RESERVATION_GRACE, users]
        for meeting, server in meetings.items():
            args += [meeting, server]
        await self._sync(keys=[self._key("rooms", tenant), self._key("users", tenant), self._where_key], args=args)

    async def close(self) -> None:
        await self.redis.aclose()
