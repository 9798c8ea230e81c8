"""The rows of a CSV export, page by page (keyset pagination): a 100,000-member group or a
1,000,000-row ledger streams to a file without ever being held in memory whole.

Each function yields lists of tuples in the column order of its `*_COLUMNS`; times are epoch ms (the
handler writes them in the group's timezone).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from storage.db import Database

PAGE = 5000

MEMBER_COLUMNS = (
    "user_id", "name", "username", "is_bot", "joined_at", "left_at", "first_seen_at", "last_seen_at",
    "messages", "balance", "earned",
)  # fmt: skip
LEDGER_COLUMNS = ("id", "at", "day", "user_id", "name", "delta", "kind", "reason", "actor")
NEED_COLUMNS = (
    "id", "created_at", "user_id", "name", "status", "votes", "first_response_at", "closed_at", "text", "reply",
)  # fmt: skip
CASE_COLUMNS = (
    "id", "at", "user_id", "name", "kind", "action", "reason", "actor", "shadow", "undone_at", "undone_by",
)  # fmt: skip
ACTIVITY_COLUMNS = ("day", "user_id", "name", "messages")
TIME_COLUMNS = frozenset(
    {"joined_at", "left_at", "first_seen_at", "last_seen_at", "at", "created_at", "first_response_at",
     "closed_at", "undone_at"}
)  # fmt: skip


class ExportRepo:
    def __init__(self, db: Database, page: int = PAGE) -> None:
        self._db = db
        self._page = page

    async def members(self, group_id: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        last = ""
        while True:
            rows = await self._db.fetchall(
                "SELECT m.user_id, m.name, m.username, m.is_bot, m.joined_at, m.left_at, m.first_seen_at, "
                "m.last_seen_at, m.message_count, COALESCE(b.balance, 0), COALESCE(b.earned, 0) FROM members m "
                "LEFT JOIN points_balance b ON b.group_id = m.group_id AND b.user_id = m.user_id "
                f"WHERE m.group_id = ? AND m.user_id > ? ORDER BY m.user_id LIMIT {self._page}",
                group_id,
                last,
            )
            if not rows:
                return
            yield [tuple(r) for r in rows]
            last = rows[-1][0]

    def ledger(self, group_id: int, since_day: str) -> AsyncIterator[list[tuple[Any, ...]]]:
        return self._by_id(
            "SELECT l.id, l.at, l.day, l.user_id, COALESCE(m.name, ''), l.delta, l.kind, l.reason, "
            "COALESCE(l.actor, '') FROM points_ledger l "
            "LEFT JOIN members m ON m.group_id = l.group_id AND m.user_id = l.user_id "
            "WHERE l.group_id = ? AND l.day >= ? AND l.id > ? ORDER BY l.id",
            group_id,
            since_day,
        )

    def needs(self, group_id: int, since_ms: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        return self._by_id(
            "SELECT n.id, n.created_at, n.user_id, COALESCE(m.name, ''), n.status, n.votes, "
            "n.first_response_at, n.closed_at, n.text, COALESCE(n.reply, '') FROM needs n "
            "LEFT JOIN members m ON m.group_id = n.group_id AND m.user_id = n.user_id "
            "WHERE n.group_id = ? AND n.created_at >= ? AND n.id > ? ORDER BY n.id",
            group_id,
            since_ms,
        )

    def cases(self, group_id: int, since_ms: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        return self._by_id(
            "SELECT id, at, user_id, user_name, kind, action, reason, actor, shadow, undone_at, "
            "COALESCE(undone_by, '') FROM mod_cases WHERE group_id = ? AND at >= ? AND id > ? ORDER BY id",
            group_id,
            since_ms,
        )

    async def _by_id(self, sql: str, group_id: int, since: Any) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Pages of `sql` (its first column the row id, its last parameter the keyset's `id > ?`)."""
        last = 0
        while True:
            rows = await self._db.fetchall(f"{sql} LIMIT {self._page}", group_id, since, last)
            if not rows:
                return
            yield [tuple(r) for r in rows]
            last = int(rows[-1][0])

    async def first_active_day(self, group_id: int) -> str | None:
        day = await self._db.fetchval("SELECT MIN(day) FROM activity_daily WHERE group_id = ?", group_id)
        return None if day is None else str(day)

    async def activity(self, group_id: int, days: list[str]) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Messages per member per day, a day at a time (a day's rows are one member each at most)."""
        for day in days:
            last = ""
            while True:
                rows = await self._db.fetchall(
                    "SELECT a.day, a.user_id, COALESCE(m.name, ''), a.messages FROM activity_daily a "
                    "LEFT JOIN members m ON m.group_id = a.group_id AND m.user_id = a.user_id "
                    f"WHERE a.group_id = ? AND a.day = ? AND a.user_id > ? ORDER BY a.user_id LIMIT {self._page}",
                    group_id,
                    day,
                    last,
                )
                if not rows:
                    break
                yield [tuple(r) for r in rows]
                if len(rows) < self._page:
                    break
                last = rows[-1][1]
