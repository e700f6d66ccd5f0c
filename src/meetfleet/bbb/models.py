"""Typed results of BBB API calls (only what the fleet reads; attendees are not kept)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Meeting:
    """One meeting as getMeetings / getMeetingInfo report it."""

    meeting_id: str
    internal_id: str
    name: str
    running: bool
    create_time_ms: int
    start_time_ms: int
    duration_minutes: int
    participants: int
    listeners: int
    voice: int
    video: int
    moderators: int
    max_users: int
    is_breakout: bool
    parent_id: str | None = None  # a breakout's parent (its internal meeting id)
    metadata: dict[str, str] = field(default_factory=dict)
    # A parent's <breakoutRooms><breakout>ID</breakout>...: links its breakouts even when
    # a breakout's own parentMeetingID is missing or shaped otherwise.
    breakout_ids: tuple[str, ...] = ()

    @property
    def started_ms(self) -> int:
        """When the meeting started; createTime for one nobody joined yet."""
        return self.start_time_ms or self.create_time_ms


@dataclass(frozen=True, slots=True)
class CallResult:
    """A successful call's top-level fields (returncode, messageKey, ...)."""

    fields: dict[str, str]
    metadata: dict[str, str]
    meetings: list[Meeting]
    breakout_ids: tuple[str, ...] = ()  # getMeetingInfo of a parent: its breakoutRooms

    @property
    def message_key(self) -> str:
        return self.fields.get("messageKey", "")
