"""Badges a member has earned, once each, and the facts badge rules count."""

from __future__ import annotations

from storage.db import Database


class BadgeRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def of(self, group_id: int, user_id: str) -> list[str]:
        rows = await self._db.fetchall(
            "SELECT badge FROM member_badges WHERE group_id = ? AND user_id = ? ORDER BY at, badge",
            group_id,
            user_id,
        )
        return [r["badge"] for r in rows]

    async def grant(self, group_id: int, user_id: str, badge: str, at_ms: int) -> bool:
        """False when the member had it already (a badge is earned once)."""
        added = await self._db.execute_rowcount(
            "INSERT INTO member_badges (group_id, user_id, badge, at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (group_id, user_id, badge) DO NOTHING",
            group_id,
            user_id,
            badge,
            at_ms,
        )
        return added > 0

    async def first_checkins(self, group_id: int, user_id: str) -> int:
        """How many days the member was the first to check in."""
        return int(
            await self._db.fetchval(
                "SELECT COUNT(*) FROM checkins WHERE group_id = ? AND user_id = ? AND rank = 1",
                group_id,
                user_id,
            )
        )
