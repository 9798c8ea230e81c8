"""The durable outbox: actions committed with their cause, sent after the commit, deleted once sent."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from storage.db import Database


@dataclass(frozen=True, slots=True)
class Pending:
    id: str
    action: str  # JSON (bot/actioncodec.py)
    remember: str | None


class OutboxRepo:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._seq = 0

    def _next_seq(self) -> int:
        self._seq = max(self._seq + 1, time.time_ns() // 1000)
        return self._seq

    async def add(self, rows: Sequence[tuple[str, str, str | None]], now_ms: int) -> None:
        """(id, action JSON, remember) rows, in send order; call inside the unit's transaction."""
        await self._db.executemany(
            "INSERT INTO outbox (id, created_at, seq, action, remember) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO NOTHING",
            [(i, now_ms, self._next_seq(), a, r) for i, a, r in rows],
        )

    async def sent(self, outbox_id: str) -> None:
        await self._db.execute("DELETE FROM outbox WHERE id = ?", outbox_id)

    async def pending(self, limit: int = 1000) -> list[Pending]:
        rows = await self._db.fetchall("SELECT id, action, remember FROM outbox ORDER BY seq LIMIT ?", limit)
        return [Pending(r["id"], r["action"], r["remember"]) for r in rows]
