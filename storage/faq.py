"""Saved answers to common questions (常见问题), per group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.db import Database


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    question: str
    answer: str
    key: str
    phrasings: tuple[str, ...] = ()


_COLUMNS = "id, question, answer, key, phrasings"


def _entry(r: Any) -> Entry:
    return Entry(int(r[0]), r[1], r[2], r[3], tuple(p for p in str(r[4]).split("\n") if p))


class FaqRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self, group_id: int, question: str, answer: str, key: str, by: str, now_ms: int
    ) -> int | None:
        """The new entry's id; None when the group has that question already."""
        row = await self._db.fetchone(
            "INSERT INTO faq_entries (group_id, question, answer, key, created_by, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (group_id, key) DO NOTHING RETURNING id",
            group_id,
            question,
            answer,
            key,
            by,
            now_ms,
            now_ms,
        )
        return None if row is None else int(row[0])

    async def edit(
        self, group_id: int, entry_id: int, question: str, answer: str, key: str, now_ms: int
    ) -> bool:
        """False when there is no such entry, or another entry has that question."""
        clash = await self._db.fetchone(
            "SELECT 1 FROM faq_entries WHERE group_id = ? AND key = ? AND id <> ?", group_id, key, entry_id
        )
        if clash is not None:
            return False
        return bool(
            await self._db.execute_rowcount(
                "UPDATE faq_entries SET question = ?, answer = ?, key = ?, updated_at = ? "
                "WHERE group_id = ? AND id = ?",
                question,
                answer,
                key,
                now_ms,
                group_id,
                entry_id,
            )
        )

    async def remove(self, group_id: int, entry_id: int) -> bool:
        return bool(
            await self._db.execute_rowcount(
                "DELETE FROM faq_entries WHERE group_id = ? AND id = ?", group_id, entry_id
            )
        )

    async def get(self, group_id: int, entry_id: int) -> Entry | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM faq_entries WHERE group_id = ? AND id = ?", group_id, entry_id
        )
        return None if row is None else _entry(row)

    async def entries(self, group_id: int) -> list[Entry]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM faq_entries WHERE group_id = ? ORDER BY id", group_id
        )
        return [_entry(r) for r in rows]

    async def add_phrasing(self, group_id: int, entry_id: int, phrasing: str) -> bool:
        entry = await self.get(group_id, entry_id)
        if entry is None:
            return False
        phrasings = "\n".join([*entry.phrasings, phrasing][-20:])
        await self._db.execute(
            "UPDATE faq_entries SET phrasings = ? WHERE group_id = ? AND id = ?",
            phrasings,
            group_id,
            entry_id,
        )
        return True
