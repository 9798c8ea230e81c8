"""The injected clock: every handler reads time from here, so days, streaks and schedules are testable."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    """Wall time, for production."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A settable clock for the console adapter and tests; it never moves by itself."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = _aware(when)

    def advance(self, delta: timedelta) -> None:
        self._now = self._now + delta


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("clock times must carry a timezone")
    return when.astimezone(UTC)


def local_day(when: datetime, tz: str) -> date:
    """The calendar day of `when` in the group's timezone (check-ins, daily counts, reports)."""
    return when.astimezone(ZoneInfo(tz)).date()


def to_ms(when: datetime) -> int:
    """Storage form of an instant: integer milliseconds since the epoch (portable across SQLite and PostgreSQL)."""
    return int(when.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
