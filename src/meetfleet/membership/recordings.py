"""A getRecordings <recording> as the export archive lists it (archive.Recording). Pure."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from meetfleet.membership.archive import Playback, Recording


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.strip().isdigit() else None


def recording_of(element: Element) -> Recording:
    """Its ids, name, state, times and playback formats (BBB's API reference, getRecordings)."""
    playback = tuple(Playback(format=(fmt.findtext("type") or "").strip(), url=(fmt.findtext("url") or "").strip())
                     for fmt in element.findall("playback/format"))
    return Recording(
        record_id=(element.findtext("recordID") or "").strip(),
        meeting_id=(element.findtext("meetingID") or "").strip(),
        name=(element.findtext("name") or "").strip(),
        state=(element.findtext("state") or "").strip(),
        published=(element.findtext("published") or "").strip() == "true",
        start_time=_int(element.findtext("startTime")),
        end_time=_int(element.findtext("endTime")),
        playback=playback,
    )
