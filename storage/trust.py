"""Members an admin marked as trusted (/trust, /untrust, /trusted)."""

from __future__ import annotations

from storage.db import Database


class TrustRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def trust(self, group_id: int, user_id: str, by: str, now_ms: int) -> bool:
        """False when the member was trusted already."""
        return bool(
            await self._db.execute_rowcount(
                "INSERT INTO member_trust (group_id, user_id, trusted_by, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (group_id, user_id) DO NOTHING",
                group_id,
                user_id,
                by,
                now_ms,
            )
        )

    async def untrust(self, group_id: int, user_id: str) -> bool:
        return bool(
            await self._db.execute_rowcount(
                "DELETE FROM member_trust WHERE group_id = ? AND user_id = ?", group_id, user_id
            )
        )

    async def is_trusted(self, group_id: int, user_id: str) -> bool:
        row = await self._db.fetchone(
            "SELECT 1 FROM member_trust WHERE group_id = ? AND user_id = ?", group_id, user_id
        )
        return row is not None

    async def listed(self, group_id: int, limit: int = 50) -> list[tuple[str, str]]:
        """(user id, name) of the trusted members, newest first."""
        rows = await self._db.fetchall(
            "SELECT t.user_id, COALESCE(m.name, '') FROM member_trust t "
            "LEFT JOIN members m ON m.group_id = t.group_id AND m.user_id = t.user_id "
            "WHERE t.group_id = ? ORDER BY t.at DESC, t.user_id LIMIT ?",
            group_id,
            limit,
        )
        return [(str(u), str(n)) for u, n in rows]

    async def user_ids(self, group_id: int) -> list[str]:
        """Every trusted member's id (a lock's exemptions on platforms that enforce it by permission)."""
        rows = await self._db.fetchall(
            "SELECT user_id FROM member_trust WHERE group_id = ? ORDER BY user_id", group_id
        )
        return [str(r[0]) for r in rows]
