"""When a recorded run started and ended, from `start`, `duration` and `ts`.

Record times are text from other clones too: anything that is not a valid time gives None.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ntrk.record import Record


def run_times(rec: Record) -> tuple[datetime | None, datetime | None]:
    """(start, end) of a run; a 0.1.0 record knows only `ts`, written just after the end."""
    written = parse(rec.ts)
    began = parse(rec.start) if rec.start else None
    if began is None:
        return None, written
    if rec.duration is not None:
        try:
            return began, began + timedelta(seconds=rec.duration)
        except OverflowError:
            pass
    return began, written


def parse(text: str) -> datetime | None:
    """A recorded time as an aware datetime (UTC when it names no zone), else None."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def rfc3339(moment: datetime | None) -> str | None:
    """`2026-11-25T14:05:05.079902Z`, the form of the record's `start`, else None."""
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except (OverflowError, ValueError):
        return None
