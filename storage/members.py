"""Members of a group: joins, leaves (with how long they stayed), look-ups for @mentions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from storage.db import Database, Executor, Row
from storage.points import periods


@dataclass(frozen=True, slots=True)
class Member:
    group_id: int
    user_id: str
    name: str
    username: str | None
    first_seen_ms: int
    last_seen_ms: int
    message_count: int
    joined_ms: int | None
    left_ms: int | None

    @classmethod
    def from_row(cls, row: Row) -> Member:
        return cls(
            int(row["group_id"]),
            row["user_id"],
            row["name"],
            row["username"],
            int(row["first_seen_at"]),
            int(row["last_seen_at"]),
            int(row["message_count"]),
            row["joined_at"],
            row["left_at"],
        )


_COLUMNS = "group_id, user_id, name, username, first_seen_at, last_seen_at, message_count, joined_at, left_at"


class MemberRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, group_id: int, user_id: str) -> Member | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM members WHERE group_id = ? AND user_id = ?", group_id, user_id
        )
        return None if row is None else Member.from_row(row)

    async def find(self, group_id: int, handle: str) -> Member | None:
        """By username (without @, case-insensitive), then by exact display name."""
        handle = handle.removeprefix("@")
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM members WHERE group_id = ? AND LOWER(username) = LOWER(?) "
            "ORDER BY last_seen_at DESC LIMIT 1",
            group_id,
            handle,
        )
        if row is None:
            row = await self._db.fetchone(
                f"SELECT {_COLUMNS} FROM members WHERE group_id = ? AND name = ? ORDER BY last_seen_at DESC LIMIT 1",
                group_id,
                handle,
            )
        return None if row is None else Member.from_row(row)

    async def record_join(
        self,
        group_id: int,
        user_id: str,
        name: str,
        username: str | None,
        is_bot: bool,
        at_ms: int,
        day: str | None = None,
    ) -> None:
        """`day` is the group's day of the join (UTC's when not given): a returning member's place on
        the boards of the current periods comes back with them."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO members (group_id, user_id, name, username, is_bot, first_seen_at, last_seen_at, "
                "joined_at, left_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL) "
                "ON CONFLICT (group_id, user_id) DO UPDATE SET name = excluded.name, username = excluded.username, "
                "joined_at = excluded.joined_at, left_at = NULL, last_seen_at = excluded.last_seen_at",
                group_id,
                user_id,
                name,
                username,
                int(is_bot),
                at_ms,
                at_ms,
                at_ms,
            )
            await tx.execute(
                "INSERT INTO membership_events (group_id, user_id, kind, at) VALUES (?, ?, 'join', ?)",
                group_id,
                user_id,
                at_ms,
            )
            # after the member row, like the activity batch (members, then balances): one lock order
            await _board_presence(tx, group_id, user_id, at_ms, day, away=False)

    async def record_leave(
        self, group_id: int, user_id: str, at_ms: int, day: str | None = None
    ) -> int | None:
        """Returns how many seconds the member stayed, when their join (or first sight) is known. A
        member already recorded as gone is not recorded again. They leave the boards (all time and the
        periods of `day`, the group's day of the leave) but keep their ledger."""
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT joined_at, first_seen_at, left_at FROM members WHERE group_id = ? AND user_id = ?",
                group_id,
                user_id,
            )
            if row is not None and row["left_at"] is not None:
                return None  # gone already (the bot removed them, and the platform says so too): once
            stayed = None
            if row is not None:
                since = row["joined_at"] if row["joined_at"] is not None else row["first_seen_at"]
                stayed = max(0, (at_ms - int(since)) // 1000)
                await tx.execute(
                    "UPDATE members SET left_at = ? WHERE group_id = ? AND user_id = ?",
                    at_ms,
                    group_id,
                    user_id,
                )
            await _board_presence(tx, group_id, user_id, at_ms, day, away=True)
            await tx.execute(
                "INSERT INTO membership_events (group_id, user_id, kind, at, stayed_seconds) VALUES (?, ?, 'leave', ?, ?)",
                group_id,
                user_id,
                at_ms,
                stayed,
            )
            return stayed

    async def count_active(self, group_id: int) -> int:
        return int(
            await self._db.fetchval(
                "SELECT COUNT(*) FROM members WHERE group_id = ? AND left_at IS NULL", group_id
            )
        )

    async def messages_on(self, group_id: int, day: str) -> int:
        return int(
            await self._db.fetchval(
                "SELECT COALESCE(SUM(messages), 0) FROM activity_daily WHERE group_id = ? AND day = ?",
                group_id,
                day,
            )
        )


async def _board_presence(
    tx: Executor, group_id: int, user_id: str, at_ms: int, day: str | None, *, away: bool
) -> None:
    """Off the boards or back on them: the all-time row and the rows of the periods current on `day`
    (older periods are never shown, so their rows are left as they were)."""
    day = day or datetime.fromtimestamp(at_ms / 1000, UTC).date().isoformat()
    await tx.execute(
        "UPDATE points_balance SET away = ? WHERE group_id = ? AND user_id = ? AND away <> ?",
        int(away),
        group_id,
        user_id,
        int(away),
    )
    await tx.executemany(
        "UPDATE points_period SET away = ? WHERE group_id = ? AND period = ? AND user_id = ? AND away <> ?",
        [(int(away), group_id, period, user_id, int(away)) for period in periods(day)],
    )
