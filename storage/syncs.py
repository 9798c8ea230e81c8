"""The digest of what was last registered with a platform, per scope ("discord:guild:<id>")."""

from __future__ import annotations

from storage.db import Database


class SyncRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def digest(self, scope: str) -> str | None:
        return await self._db.fetchval("SELECT digest FROM platform_syncs WHERE scope = ?", scope)

    async def synced(self, scope: str, digest: str, now_ms: int) -> None:
        await self._db.execute(
            "INSERT INTO platform_syncs (scope, digest, synced_at) VALUES (?, ?, ?) "
            "ON CONFLICT (scope) DO UPDATE SET digest = excluded.digest, synced_at = excluded.synced_at",
            scope,
            digest,
            now_ms,
        )

    async def forget(self, scope: str) -> None:
        await self._db.execute("DELETE FROM platform_syncs WHERE scope = ?", scope)
