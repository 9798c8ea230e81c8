"""Named counters kept in the database, handed out in blocks (ids that must never repeat across runs)."""

from __future__ import annotations

from storage.db import Database


class Counters:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def reserve(self, name: str, count: int) -> int:
        """Reserve `count` consecutive numbers of counter `name` (starting at 1); returns the first."""
        async with self._db.transaction() as tx:
            end = await tx.fetchval(
                "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET "
                "value = counters.value + excluded.value RETURNING value",
                name,
                count,
            )
        return int(end) - count + 1


class IdBlock:
    """Ids from one counter, reserved a block at a time: unique across runs on the same database, and
    consecutive within a run (a fresh database numbers 1, 2, 3 …, so scripted output stays the same)."""

    def __init__(self, counters: Counters, name: str, block: int = 1000) -> None:
        self._counters, self._name, self._block = counters, name, block
        self._next, self._last = 1, 0

    async def next(self) -> int:
        if self._next > self._last:
            self._next = await self._counters.reserve(self._name, self._block)
            self._last = self._next + self._block - 1
        value = self._next
        self._next += 1
        return value
