"""How much work a BBB meeting is, in load units.

One load unit is roughly one participant whose client is connected but sends nothing.
The weights follow where a BBB server actually spends its CPU:

* every participant costs a client session (HTML5 signalling, presence, chat): 1;
* a two-way audio participant is mixed by FreeSWITCH: +1;
* a listen-only participant gets the mixed stream relayed: +0.5;
* a camera is forwarded by the SFU to every other participant, so its cost grows with
  the meeting's size: +0.1 per viewer (a camera in a meeting of 41 costs 4 units);
* a meeting has a fixed cost (its processes, the conference, recording): 5.

Participants of breakout rooms are counted in the breakout and not again in the parent:
BBB lists a user who went to a breakout in both places.

A server's capacity is measured in the same unit. The default, for a server that only
gives its CPU count, is 50 units per CPU: BBB's own guidance of roughly 200 two-way
audio users on 8 cores with some cameras. Calibrate it per server in the inventory
(`fleet_bbb_capacity`) once you have seen the server under load.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LOAD_UNITS_PER_CPU = 50


@dataclass(frozen=True)
class LoadWeights:
    participant: float = 1.0
    voice: float = 1.0
    listen_only: float = 0.5
    video_per_viewer: float = 0.1
    meeting: float = 5.0


DEFAULT_WEIGHTS = LoadWeights()


def meeting_load(
    *,
    participants: int,
    voice: int,
    listeners: int,
    video: int,
    weights: LoadWeights = DEFAULT_WEIGHTS,
) -> float:
    """Load units of one meeting from its counts as getMeetings reports them."""
    viewers = max(participants - 1, 0)
    return (
        weights.meeting
        + weights.participant * participants
        + weights.voice * voice
        + weights.listen_only * listeners
        + weights.video_per_viewer * video * viewers
    )


def users_to_load(users: int, weights: LoadWeights = DEFAULT_WEIGHTS) -> float:
    """Load units of `users` concurrent users in a typical meeting mix.

    Used to turn a plan's caps into an expected load before a tenant has history:
    everyone on two-way audio, one camera in ten, meetings of ten.
    """
    if users <= 0:
        return 0.0
    meetings = max(users // 10, 1)
    per_meeting = users / meetings
    return meetings * meeting_load(
        participants=round(per_meeting),
        voice=round(per_meeting),
        listeners=0,
        video=max(round(per_meeting / 10), 1),
        weights=weights,
    )
