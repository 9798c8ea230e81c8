"""What each group forbids members to post (/lock)."""

from __future__ import annotations

from storage.db import Database


class LockRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def lock(self, group_id: int, kinds: list[str], by: str, now_ms: int) -> None:
        await self._db.executemany(
            "INSERT INTO group_locks (group_id, kind, locked_by, at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (group_id, kind) DO NOTHING",
            [(group_id, k, by, now_ms) for k in kinds],
        )

    async def unlock(self, group_id: int, kinds: list[str]) -> None:
        await self._db.executemany(
            "DELETE FROM group_locks WHERE group_id = ? AND kind = ?", [(group_id, k) for k in kinds]
        )

    async def locked(self, group_id: int) -> frozenset[str]:
        rows = await self._db.fetchall("SELECT kind FROM group_locks WHERE group_id = ?", group_id)
        return frozenset(str(r[0]) for r in rows)
