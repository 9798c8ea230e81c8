"""Button payloads longer than a platform allows are stored and referenced by a short key."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from bot.actions import ActionResult, Failure
from storage.db import Database

PREFIX = "~"
# Buttons posted before shortening was idempotent carry a reference to a reference (a handler shortened
# the payload, then the adapter stored that reference again); resolving follows a few such hops.
MAX_HOPS = 3


def reference(data: str) -> int | None:
    """The stored payload's id when `data` is a reference (`~` and ASCII digits), else None."""
    digits = data[len(PREFIX) :]
    if not data.startswith(PREFIX) or not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return None
    ref = int(digits)
    return ref if ref >= 1 else None


class ButtonStore:
    """One place shortens payloads: the adapter, which knows its platform's limit. Handlers write their
    payloads in full; `shorten` is idempotent (a reference is already short and stands for its payload),
    so a payload shortened twice still resolves in one step to what the feature wrote."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def shorten(self, data: str, max_bytes: int, now_ms: int) -> str:
        """`data` itself when it fits and cannot be mistaken for a reference; an existing reference as it
        is; else a new reference. Any other payload starting with `~` is stored, so a press can never
        be read as a reference it is not."""
        if reference(data) is not None:
            return data
        if len(data.encode("utf-8")) <= max_bytes and not data.startswith(PREFIX):
            return data
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "INSERT INTO button_payloads (data, created_at) VALUES (?, ?) RETURNING id", data, now_ms
            )
        assert row is not None
        return f"{PREFIX}{row[0]}"

    async def resolve(self, data: str) -> str | None:
        """The payload a pressed button stands for; None when a stored one is gone (or a chain of
        references is longer than any this code ever made)."""
        for _ in range(MAX_HOPS):
            ref = reference(data)
            if ref is None:
                # not a reference: a payload as written, unless it is a malformed `~…` press
                return None if data.startswith(PREFIX) else data
            found = await self._db.fetchval("SELECT data FROM button_payloads WHERE id = ?", ref)
            if found is None:
                return None
            data = str(found)
            if reference(data) is None:
                return data
        return None


class DmCapability(Protocol):
    """What the outbox says of a platform's DMs (`Outbox.dm_opt_in`)."""

    def dm_opt_in(self, platform: str) -> bool: ...


class DmRegistry:
    """Who can receive a private message from the bot, per platform."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def may_dm(self, outbox: DmCapability, platform: str, user_ids: Iterable[str]) -> set[str]:
        """Of `user_ids`, those a DM may be tried for, by what the platform's adapter says of its DMs:
        where a member must open the chat first (Telegram), those who did; elsewhere (Discord), all but
        those whose DMs were refused. Every feature asks this, never the /start table alone; a DM
        tried still carries its fallback, since DMs can close at any time."""
        return await self._reachable(platform, list(dict.fromkeys(user_ids)), opt_in=outbox.dm_opt_in(platform))

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

    async def learn(self, platform: str, user_id: str, result: ActionResult, now_ms: int) -> None:
        """What a DM's answer teaches: a refusal (closed DMs, the bot blocked; also when its fallback
        went out instead) means no more tries until the member opens a chat with the bot."""
        refused = result.extra.get("dm_refused") or (None if result.ok else result.failure)
        if refused == Failure.FORBIDDEN:
            await self.refused(platform, user_id, now_ms)

    async def _reachable(self, platform: str, user_ids: list[str], *, opt_in: bool) -> set[str]:
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
        """Whether the member opened a chat with the bot (Telegram's /start): a fact, not whether to try
        a DM, which is `may_dm`'s answer (on Discord nobody opens a chat first)."""
        found = await self._db.fetchval(
            "SELECT 1 FROM dm_open WHERE platform = ? AND user_id = ?", platform, user_id
        )
        return found is not None
