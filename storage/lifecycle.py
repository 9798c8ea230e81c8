"""Member lifecycle (生命周期): stage counts, the silent list, a daily snapshot of the counts.

A member's last activity is `members.last_seen_at` (their last message, check-in, vote, button press or
command; their join for one who never spoke). Stages, by the group's thresholds: left; new (a join the
bot saw within `new_days`: members it first met by their messages were there before it); active (seen within `silent_days`); silent (until `lost_days`); lost. Bots are
not members of any stage.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Database
from storage.members import _COLUMNS, Member

STAGES = ("new", "active", "silent", "lost", "left")


@dataclass(frozen=True, slots=True)
class Cuts:
    """Epoch-ms boundaries of the stages at one moment."""

    new_since: int  # joined at or after this: new
    silent_before: int  # last seen before this: silent (or lost)
    lost_before: int  # last seen before this: lost


@dataclass(frozen=True, slots=True)
class StageCounts:
    new: int
    active: int
    silent: int
    lost: int
    left: int

    def get(self, stage: str) -> int:
        return int(getattr(self, stage))


def stage_of(member: Member, cuts: Cuts) -> str:
    if member.left_ms is not None:
        return "left"
    if member.joined_ms is not None and member.joined_ms >= cuts.new_since:
        return "new"
    if member.last_seen_ms >= cuts.silent_before:
        return "active"
    return "silent" if member.last_seen_ms >= cuts.lost_before else "lost"


class LifecycleRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def counts(self, group_id: int, cuts: Cuts) -> StageCounts:
        row = await self._db.fetchone(
            "SELECT "
            "COALESCE(SUM(CASE WHEN left_at IS NOT NULL THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN left_at IS NULL AND COALESCE(joined_at, 0) >= ? THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN left_at IS NULL AND COALESCE(joined_at, 0) < ? "
            "AND last_seen_at >= ? THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN left_at IS NULL AND COALESCE(joined_at, 0) < ? "
            "AND last_seen_at < ? AND last_seen_at >= ? THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN left_at IS NULL AND COALESCE(joined_at, 0) < ? "
            "AND last_seen_at < ? THEN 1 ELSE 0 END), 0) "
            "FROM members WHERE group_id = ? AND is_bot = 0",
            cuts.new_since,
            cuts.new_since,
            cuts.silent_before,
            cuts.new_since,
            cuts.silent_before,
            cuts.lost_before,
            cuts.new_since,
            cuts.lost_before,
            group_id,
        )
        assert row is not None
        left, new, active, silent, lost = (int(x) for x in row)
        return StageCounts(new, active, silent, lost, left)

    async def snapshot(self, group_id: int, day: str, c: StageCounts) -> None:
        await self._db.execute(
            "INSERT INTO lifecycle_daily (group_id, day, new_members, active, silent, lost, gone) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (group_id, day) DO UPDATE SET "
            "new_members = excluded.new_members, active = excluded.active, silent = excluded.silent, "
            "lost = excluded.lost, gone = excluded.gone",
            group_id,
            day,
            c.new,
            c.active,
            c.silent,
            c.lost,
            c.left,
        )

    async def snapshot_on(self, group_id: int, day: str) -> StageCounts | None:
        row = await self._db.fetchone(
            "SELECT new_members, active, silent, lost, gone FROM lifecycle_daily WHERE group_id = ? AND day = ?",
            group_id,
            day,
        )
        return None if row is None else StageCounts(*(int(x) for x in row))

    async def silent(self, group_id: int, cuts: Cuts, limit: int, offset: int) -> tuple[list[Member], int]:
        """Silent members, the most recently active first, and how many there are."""
        where = (
            "WHERE group_id = ? AND last_seen_at < ? AND last_seen_at >= ? AND left_at IS NULL AND is_bot = 0 "
            "AND COALESCE(joined_at, 0) < ?"
        )
        params = (group_id, cuts.silent_before, cuts.lost_before, cuts.new_since)
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM members {where} ORDER BY last_seen_at DESC, user_id LIMIT ? OFFSET ?",
            *params,
            limit,
            offset,
        )
        total = int(await self._db.fetchval(f"SELECT COUNT(*) FROM members {where}", *params))
        return [Member.from_row(r) for r in rows], total
