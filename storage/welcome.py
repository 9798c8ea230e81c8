"""Repositories for welcomes: group texts, the pending burst, challenges, onboarding progress."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Database


class GroupTexts:
    """Free texts an admin writes for a group (welcome, goodbye, rules)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, group_id: int, kind: str) -> str | None:
        return await self._db.fetchval(
            "SELECT text FROM group_texts WHERE group_id = ? AND kind = ?", group_id, kind
        )

    async def set(self, group_id: int, kind: str, text: str, actor: str, now_ms: int) -> None:
        await self._db.execute(
            "INSERT INTO group_texts (group_id, kind, text, updated_at, updated_by) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (group_id, kind) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at, "
            "updated_by = excluded.updated_by",
            group_id,
            kind,
            text,
            now_ms,
            actor,
        )

    async def delete(self, group_id: int, kind: str) -> None:
        await self._db.execute("DELETE FROM group_texts WHERE group_id = ? AND kind = ?", group_id, kind)


@dataclass(frozen=True, slots=True)
class Challenge:
    group_id: int
    user_id: str
    name: str
    kind: str
    answer: str
    tries_left: int
    message_id: str | None
    deadline_ms: int
    status: str


_CHALLENGE = "group_id, user_id, name, kind, answer, tries_left, message_id, deadline, status"


def _challenge(row: object) -> Challenge:
    r = row  # a Row: index by name
    return Challenge(
        int(r["group_id"]),
        r["user_id"],
        r["name"],
        r["kind"],
        r["answer"],
        int(r["tries_left"]),  # type: ignore[index]
        r["message_id"],
        int(r["deadline"]),
        r["status"],
    )  # type: ignore[index]


class WelcomeRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- the burst -----------------------------------------------------------------------------------

    async def queue(self, group_id: int, user_id: str, name: str, now_ms: int) -> None:
        await self._db.execute(
            "INSERT INTO welcome_pending (group_id, user_id, name, queued_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (group_id, user_id) DO UPDATE SET name = excluded.name",
            group_id,
            user_id,
            name,
            now_ms,
        )

    async def unqueue(self, group_id: int, user_id: str) -> None:
        await self._db.execute(
            "DELETE FROM welcome_pending WHERE group_id = ? AND user_id = ?", group_id, user_id
        )

    async def first_queued_ms(self, group_id: int, since_ms: int) -> int | None:
        """When the oldest newcomer queued since `since_ms` joined (older rows are stale)."""
        return await self._db.fetchval(
            "SELECT MIN(queued_at) FROM welcome_pending WHERE group_id = ? AND queued_at >= ?",
            group_id,
            since_ms,
        )

    async def take_queue(self, group_id: int, since_ms: int) -> tuple[list[tuple[str, str]], int]:
        """Everyone queued since `since_ms`, oldest first, and how many older (stale) rows were dropped;
        the queue is emptied either way (one transaction), so it can never stay stuck."""
        async with self._db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT user_id, name, queued_at FROM welcome_pending WHERE group_id = ? ORDER BY id",
                group_id,
            )
            await tx.execute("DELETE FROM welcome_pending WHERE group_id = ?", group_id)
        fresh = [(r["user_id"], r["name"]) for r in rows if int(r["queued_at"]) >= since_ms]
        return fresh, len(rows) - len(fresh)

    async def last_message(self, group_id: int) -> str | None:
        return await self._db.fetchval(
            "SELECT last_message_id FROM welcome_state WHERE group_id = ?", group_id
        )

    async def set_last_message(self, group_id: int, message_id: str | None) -> None:
        await self._db.execute(
            "INSERT INTO welcome_state (group_id, last_message_id) VALUES (?, ?) "
            "ON CONFLICT (group_id) DO UPDATE SET last_message_id = excluded.last_message_id",
            group_id,
            message_id,
        )

    # --- challenges ----------------------------------------------------------------------------------

    async def open_challenge(self, c: Challenge, now_ms: int) -> None:
        await self._db.execute(
            f"INSERT INTO verifications ({_CHALLENGE}, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (group_id, user_id) DO UPDATE SET name = excluded.name, kind = excluded.kind, "
            "answer = excluded.answer, tries_left = excluded.tries_left, message_id = excluded.message_id, "
            "deadline = excluded.deadline, status = excluded.status, created_at = excluded.created_at",
            c.group_id,
            c.user_id,
            c.name,
            c.kind,
            c.answer,
            c.tries_left,
            c.message_id,
            c.deadline_ms,
            c.status,
            now_ms,
        )

    async def set_challenge_message(self, group_id: int, user_id: str, message_id: str | None) -> None:
        await self._db.execute(
            "UPDATE verifications SET message_id = ? WHERE group_id = ? AND user_id = ?",
            message_id,
            group_id,
            user_id,
        )

    async def challenge(self, group_id: int, user_id: str) -> Challenge | None:
        row = await self._db.fetchone(
            f"SELECT {_CHALLENGE} FROM verifications WHERE group_id = ? AND user_id = ?", group_id, user_id
        )
        return None if row is None else _challenge(row)

    async def wrong_answer(self, group_id: int, user_id: str) -> int:
        """One try fewer; returns the tries left (the update is conditional on the challenge being open)."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE verifications SET tries_left = tries_left - 1 "
                "WHERE group_id = ? AND user_id = ? AND status = 'open' AND tries_left > 0",
                group_id,
                user_id,
            )
            left = await tx.fetchval(
                "SELECT tries_left FROM verifications WHERE group_id = ? AND user_id = ?", group_id, user_id
            )
        return int(left or 0)

    async def close_challenge(self, group_id: int, user_id: str, status: str) -> bool:
        """Open → status; False if it was already closed (a late button and the deadline cannot both act)."""
        changed = await self._db.execute_rowcount(
            "UPDATE verifications SET status = ? WHERE group_id = ? AND user_id = ? AND status = 'open'",
            status,
            group_id,
            user_id,
        )
        return changed > 0

    async def overdue(self, now_ms: int) -> list[Challenge]:
        rows = await self._db.fetchall(
            f"SELECT {_CHALLENGE} FROM verifications WHERE status = 'open' AND deadline <= ? ORDER BY deadline",
            now_ms,
        )
        return [_challenge(r) for r in rows]

    # --- onboarding ----------------------------------------------------------------------------------

    async def tasks_done(self, group_id: int, user_id: str) -> dict[str, int]:
        rows = await self._db.fetchall(
            "SELECT task, done_at FROM onboarding_progress WHERE group_id = ? AND user_id = ?",
            group_id,
            user_id,
        )
        return {r["task"]: int(r["done_at"]) for r in rows}

    async def complete_task(self, group_id: int, user_id: str, task: str, now_ms: int) -> bool:
        """True the first time only (idempotent on redelivery and restarts)."""
        changed = await self._db.execute_rowcount(
            "INSERT INTO onboarding_progress (group_id, user_id, task, done_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (group_id, user_id, task) DO NOTHING",
            group_id,
            user_id,
            task,
            now_ms,
        )
        return changed > 0
