"""Button payloads longer than a platform allows are stored and referenced by a short key."""

from __future__ import annotations

from bot.parsing import parse_int
from storage.db import Database

PREFIX = "~"


class ButtonStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def shorten(self, data: str, max_bytes: int, now_ms: int) -> str:
        if len(data.encode("utf-8")) <= max_bytes and not data.startswith(PREFIX):
            return data
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "INSERT INTO button_payloads (data, created_at) VALUES (?, ?) RETURNING id", data, now_ms
            )
        assert row is not None
        return f"{PREFIX}{row[0]}"

    async def resolve(self, data: str) -> str | None:
        """The payload a pressed button stands for; None when a stored one is gone."""
        if not data.startswith(PREFIX):
            return data
        ref = parse_int(data[len(PREFIX) :], 1)
        if ref is None:
            return None
        return await self._db.fetchval("SELECT data FROM button_payloads WHERE id = ?", ref)


class DmRegistry:
    """Who can receive a private message from the bot, per platform."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def opened(self, platform: str, user_id: str, now_ms: int) -> None:
        await self._db.execute(
            "INSERT INTO dm_open (platform, user_id, opened_at) VALUES (?, ?, ?) "
            "ON CONFLICT (platform, user_id) DO NOTHING",
            platform,
            user_id,
            now_ms,
        )

    async def closed(self, platform: str, user_id: str) -> None:
        await self._db.execute("DELETE FROM dm_open WHERE platform = ? AND user_id = ?", platform, user_id)

    async def can_dm(self, platform: str, user_id: str) -> bool:
        found = await self._db.fetchval(
            "SELECT 1 FROM dm_open WHERE platform = ? AND user_id = ?", platform, user_id
        )
        return found is not None
