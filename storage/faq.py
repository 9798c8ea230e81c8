"""Saved answers to common questions (常见问题), per group."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from storage.db import Database


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    question: str
    answer: str
    key: str
    phrasings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Miss:
    """A member's question that no entry answered."""

    key: str
    text: str
    user_id: str


@dataclass(slots=True)
class FaqFigures:
    answered: int = 0  # automatic answers
    shown: int = 0  # entries members pulled themselves
    not_answered: int = 0  # "not answered" presses
    top: list[tuple[int, str, int]] = field(default_factory=list)  # (entry id, question, times asked)
    misses: list[Miss] = field(default_factory=list)  # the newest unanswered questions


LOG_KINDS = ("auto", "quiet", "shown", "no", "miss")
FAQ_LOG_INSERT = (
    "INSERT INTO faq_log (group_id, chat, kind, entry_id, user_id, key, text, at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def log_row(
    group_id: int,
    chat: str,
    kind: str,
    user_id: str,
    now_ms: int,
    *,
    entry_id: int | None = None,
    key: str | None = None,
    text: str | None = None,
) -> tuple[Any, ...]:
    assert kind in LOG_KINDS
    return (group_id, chat, kind, entry_id, user_id, key, text, now_ms)


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

    # --- what the FAQ did: figures for the digest, the cooldown of automatic answers -----------------

    async def log(self, row: tuple[Any, ...]) -> None:
        """A row made by `log_row`, inside the caller's unit (what the member was told commits with it)."""
        await self._db.execute(FAQ_LOG_INSERT, *row)

    async def said_not_answered(self, group_id: int, entry_id: int, user_id: str, since_ms: int) -> bool:
        """Whether this member pressed "not answered" on this entry since then (the admins heard once)."""
        value = await self._db.fetchval(
            "SELECT 1 FROM faq_log WHERE group_id = ? AND entry_id = ? AND kind = 'no' AND user_id = ? "
            "AND at >= ? LIMIT 1",
            group_id,
            entry_id,
            user_id,
            since_ms,
        )
        return value is not None

    async def last_answer(self, group_id: int, chat: str, entry_id: int) -> int | None:
        """When the entry was last answered automatically in this chat (ms), if ever."""
        value = await self._db.fetchval(
            "SELECT MAX(at) FROM faq_log WHERE group_id = ? AND entry_id = ? AND chat = ? AND kind = 'auto'",
            group_id,
            entry_id,
            chat,
        )
        return None if value is None else int(value)

    async def figures(
        self, group_id: int, start_ms: int, end_ms: int, *, top: int = 5, misses: int = 500
    ) -> FaqFigures:
        out = FaqFigures()
        rows = await self._db.fetchall(
            "SELECT kind, COUNT(*) FROM faq_log WHERE group_id = ? AND at >= ? AND at < ? GROUP BY kind",
            group_id,
            start_ms,
            end_ms,
        )
        counts = {str(k): int(n) for k, n in rows}
        out.answered, out.shown, out.not_answered = (
            counts.get("auto", 0),
            counts.get("shown", 0),
            counts.get("no", 0),
        )
        if top:
            rows = await self._db.fetchall(
                "SELECT l.entry_id, e.question, COUNT(*) AS n FROM faq_log l "
                "JOIN faq_entries e ON e.id = l.entry_id AND e.group_id = l.group_id "
                "WHERE l.group_id = ? AND l.at >= ? AND l.at < ? AND l.kind IN ('auto', 'quiet', 'shown') "
                "GROUP BY l.entry_id, e.question ORDER BY n DESC, l.entry_id LIMIT ?",
                group_id,
                start_ms,
                end_ms,
                top,
            )
            out.top = [(int(r[0]), str(r[1]), int(r[2])) for r in rows]
        if misses and counts.get("miss"):
            rows = await self._db.fetchall(
                "SELECT key, text, user_id FROM faq_log WHERE group_id = ? AND at >= ? AND at < ? "
                "AND kind = 'miss' ORDER BY at DESC LIMIT ?",
                group_id,
                start_ms,
                end_ms,
                misses,
            )
            out.misses = [Miss(str(r[0]), str(r[1]), str(r[2])) for r in rows]
        return out

    async def prune_log(self, older_than_ms: int) -> int:
        return await self._db.execute_rowcount("DELETE FROM faq_log WHERE at < ?", older_than_ms)
