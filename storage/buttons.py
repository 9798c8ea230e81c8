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
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO dm_open (platform, user_id, opened_at) VALUES (?, ?, ?) "
                "ON CONFLICT (platform, user_id) DO NOTHING",
                platform,
                user_id,
                now_ms,
            )
            await tx.execute("DELETE FROM dm_refused WHERE platform = ? AND user_id = ?", platform, user_id)

    async def refused(self, platform: str, user_id: str, now_ms: int) -> None:
        """The platform refused a DM (closed DMs, the bot blocked): no more tries until they open one."""
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM dm_open WHERE platform = ? AND user_id = ?", platform, user_id)
            await tx.execute(
                "INSERT INTO dm_refused (platform, user_id, at) VALUES (?, ?, ?) "
                "ON CONFLICT (platform, user_id) DO UPDATE SET at = excluded.at",
                platform,
                user_id,
                now_ms,
            )

    async def reachable(self, platform: str, user_ids: list[str], *, opt_in: bool) -> set[str]:
        """Of `user_ids`, those a DM may be tried for: on a platform where a member must open the chat
        first (Telegram), those who did; elsewhere (Discord), those whose DMs were never refused."""
        if not user_ids:
            return set()
        out: set[str] = set()
        table = "dm_open" if opt_in else "dm_refused"
        for i in range(0, len(user_ids), 500):
            chunk = user_ids[i : i + 500]
            rows = await self._db.fetchall(
                f"SELECT user_id FROM {table} WHERE platform = ? AND user_id IN ({', '.join('?' * len(chunk))})",
                platform,
                *chunk,
            )
            out |= {r[0] for r in rows}
        return out if opt_in else set(user_ids) - out

    async def closed(self, platform: str, user_id: str) -> None:
        await self._db.execute("DELETE FROM dm_open WHERE platform = ? AND user_id = ?", platform, user_id)

    async def can_dm(self, platform: str, user_id: str) -> bool:
        found = await self._db.fetchval(
            "SELECT 1 FROM dm_open WHERE platform = ? AND user_id = ?", platform, user_id
        )
        return found is not None
