"""Needs voting (需求投票): needs, votes, status history, the needs channel and the figures.

Every lookup is by (group, id): a need of another group is simply not found, whatever a button says.
A vote is a row unique on (need, member) and the count on the need moves with it in one transaction."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Literal

from storage.db import Database, Row

Status = Literal["open", "accepted", "planned", "progress", "done", "declined", "duplicate"]
STATUSES: tuple[Status, ...] = ("open", "accepted", "planned", "progress", "done", "declined", "duplicate")
FINAL: frozenset[str] = frozenset({"done", "declined", "duplicate"})
View = Literal["top", "new", "open", "mine", "done"]

_COLUMNS = (
    "id, group_id, user_id, text, status, votes, created_at, first_response_at, closed_at, planned_for, "
    "duplicate_of, reply, card_message_id, vote_points_paid"
)


@dataclass(frozen=True, slots=True)
class Need:
    id: int
    group_id: int
    user_id: str
    text: str
    status: str
    votes: int
    created_at: int
    first_response_at: int | None
    closed_at: int | None
    planned_for: str | None
    duplicate_of: int | None
    reply: str | None
    card_message_id: str | None
    vote_points_paid: int


def _need(r: Row) -> Need:
    return Need(
        int(r[0]),
        int(r[1]),
        r[2],
        r[3],
        r[4],
        int(r[5]),
        int(r[6]),
        None if r[7] is None else int(r[7]),
        None if r[8] is None else int(r[8]),
        r[9],
        None if r[10] is None else int(r[10]),
        r[11],
        r[12],
        int(r[13]),
    )


@dataclass(frozen=True, slots=True)
class Voted:
    counted: bool  # True: the member's vote stands now; False: it was withdrawn
    votes: int
    changed: bool = True  # False: a double tap, nothing moved (no card edit, no signal)


@dataclass(frozen=True, slots=True)
class NeedStats:
    submitted: int
    responded: int
    median_response_ms: int | None
    p90_response_ms: int | None
    within_deadline: float | None  # share of submitted needs answered within the deadline
    closed: float | None  # share of submitted needs with a final status
    closed_loop: float | None  # answered within the deadline and reached a final status
    open_now: int
    overdue_now: int
    top_open: list[Need]


class NeedsRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def submit(
        self, group_id: int, user_id: str, text: str, *, at_ms: int, day: str, source_key: str
    ) -> Need | None:
        """A new open need; None when this cause (a redelivered command) already made one."""
        row = await self._db.fetchone(
            "INSERT INTO needs (group_id, user_id, text, created_at, day, source_key) VALUES (?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (source_key) DO NOTHING RETURNING {_COLUMNS}",
            group_id,
            user_id,
            text,
            at_ms,
            day,
            source_key,
        )
        return None if row is None else _need(row)

    async def submitted_on(self, group_id: int, user_id: str, day: str) -> int:
        return int(
            await self._db.fetchval(
                "SELECT COUNT(*) FROM needs WHERE group_id = ? AND user_id = ? AND day = ?",
                group_id,
                user_id,
                day,
            )
        )

    async def get(self, group_id: int, need_id: int) -> Need | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM needs WHERE group_id = ? AND id = ?", group_id, need_id
        )
        return None if row is None else _need(row)

    async def open_texts(self, group_id: int, limit: int = 5000) -> list[tuple[int, str]]:
        """The open needs' texts (not yet final), newest first: what a new need is compared with."""
        rows = await self._db.fetchall(
            "SELECT id, text FROM needs WHERE group_id = ? AND status NOT IN ('done', 'declined', 'duplicate') "
            "ORDER BY id DESC LIMIT ?",
            group_id,
            limit,
        )
        return [(int(r[0]), r[1]) for r in rows]

    async def set_card(self, group_id: int, need_id: int, message_id: str) -> None:
        await self._db.execute(
            "UPDATE needs SET card_message_id = ? WHERE group_id = ? AND id = ?",
            message_id,
            group_id,
            need_id,
        )

    async def browse(
        self, group_id: int, view: View, user_id: str, limit: int, offset: int
    ) -> tuple[list[Need], int]:
        """A page of needs and how many there are in that view."""
        where, args, order = "group_id = ?", [group_id], "id DESC"
        if view in ("top", "open"):
            where += " AND status NOT IN ('done', 'declined', 'duplicate')"
            order = "votes DESC, id" if view == "top" else "id DESC"
        elif view == "done":
            where += " AND status IN ('done', 'declined', 'duplicate')"
        elif view == "mine":
            where += " AND user_id = ?"
            args.append(user_id)
        total = int(await self._db.fetchval(f"SELECT COUNT(*) FROM needs WHERE {where}", *args))
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM needs WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
            *args,
            limit,
            offset,
        )
        return [_need(r) for r in rows], total

    async def vote(
        self, group_id: int, need_id: int, user_id: str, at_ms: int, debounce_ms: int
    ) -> Voted | None:
        """Toggle a member's vote; None when there is no such open need in the group. A second press
        within `debounce_ms` of the member's own vote is a double tap: the vote stands, counted once."""
        async with self._db.transaction() as tx:
            need = await tx.fetchone(
                "SELECT votes, status FROM needs WHERE group_id = ? AND id = ?", group_id, need_id
            )
            if need is None or need[1] in FINAL:
                return None
            mine = await tx.fetchval(
                "SELECT at FROM need_votes WHERE need_id = ? AND user_id = ?", need_id, user_id
            )
            if mine is not None and at_ms - int(mine) < debounce_ms:
                return Voted(True, int(need[0]), changed=False)
            if mine is None:
                await tx.execute(
                    "INSERT INTO need_votes (need_id, user_id, at) VALUES (?, ?, ?)", need_id, user_id, at_ms
                )
                delta = 1
            else:
                await tx.execute("DELETE FROM need_votes WHERE need_id = ? AND user_id = ?", need_id, user_id)
                delta = -1
            votes = await tx.fetchval(
                "UPDATE needs SET votes = votes + ? WHERE id = ? RETURNING votes", delta, need_id
            )
        return Voted(delta > 0, int(votes))

    async def voters(self, need_id: int) -> list[str]:
        rows = await self._db.fetchall(
            "SELECT user_id FROM need_votes WHERE need_id = ? ORDER BY at", need_id
        )
        return [r[0] for r in rows]

    async def pay_vote_points(self, need_id: int, cap: int) -> bool:
        """Count one paid vote toward the need's cap; False once the cap is reached."""
        return bool(
            await self._db.execute_rowcount(
                "UPDATE needs SET vote_points_paid = vote_points_paid + 1 WHERE id = ? AND vote_points_paid < ?",
                need_id,
                cap,
            )
        )

    async def change(
        self,
        group_id: int,
        need_id: int,
        status: str,
        *,
        actor: str,
        at_ms: int,
        reply: str | None = None,
        planned_for: str | None = None,
        duplicate_of: int | None = None,
    ) -> Need | None:
        """A status change (or a reply alone, with the same status), kept in the history; the need as it
        is now. A duplicate's voters move to the need it duplicates (a member who voted on both counts
        once there)."""
        async with self._db.transaction() as tx:
            before = await self.get(group_id, need_id)
            if before is None:
                return None
            closed = at_ms if status in FINAL else None
            await tx.execute(
                "UPDATE needs SET status = ?, reply = COALESCE(?, reply), planned_for = ?, duplicate_of = ?, "
                "first_response_at = COALESCE(first_response_at, ?), closed_at = ? WHERE id = ?",
                status,
                reply,
                planned_for if status == "planned" else before.planned_for,
                duplicate_of,
                at_ms,
                closed,
                need_id,
            )
            await tx.execute(
                "INSERT INTO need_history (need_id, at, actor, from_status, to_status, reply) VALUES (?, ?, ?, ?, ?, ?)",
                need_id,
                at_ms,
                actor,
                before.status,
                status,
                reply,
            )
            if duplicate_of is not None:
                await tx.execute(
                    "INSERT INTO need_votes (need_id, user_id, at) SELECT ?, user_id, at FROM need_votes "
                    "WHERE need_id = ? ON CONFLICT (need_id, user_id) DO NOTHING",
                    duplicate_of,
                    need_id,
                )
                await tx.execute(
                    "UPDATE needs SET votes = (SELECT COUNT(*) FROM need_votes WHERE need_id = ?) WHERE id = ?",
                    duplicate_of,
                    duplicate_of,
                )
            after = await self.get(group_id, need_id)
        return after

    async def history(self, need_id: int) -> list[Row]:
        return await self._db.fetchall(
            "SELECT at, actor, from_status, to_status, reply FROM need_history WHERE need_id = ? ORDER BY id",
            need_id,
        )

    async def channel(self, group_id: int) -> str | None:
        value = await self._db.fetchval("SELECT channel FROM needs_channels WHERE group_id = ?", group_id)
        return None if value is None else str(value)

    async def set_channel(self, group_id: int, channel: str | None) -> None:
        if channel is None:
            await self._db.execute("DELETE FROM needs_channels WHERE group_id = ?", group_id)
            return
        await self._db.execute(
            "INSERT INTO needs_channels (group_id, channel) VALUES (?, ?) "
            "ON CONFLICT (group_id) DO UPDATE SET channel = excluded.channel",
            group_id,
            channel,
        )

    async def stats(
        self, group_id: int, since_ms: int, now_ms: int, deadline_ms: int, *, until_ms: int | None = None
    ) -> NeedStats:
        """The closed-loop figures for needs submitted since `since_ms` (and before `until_ms`: the weekly
        digest's week)."""
        rows = await self._db.fetchall(
            "SELECT created_at, first_response_at, status FROM needs WHERE group_id = ? AND created_at >= ? "
            "AND created_at < ?",
            group_id,
            since_ms,
            2**62 if until_ms is None else until_ms,
        )
        waits = sorted(int(r[1]) - int(r[0]) for r in rows if r[1] is not None)
        n = len(rows)
        in_time = sum(1 for r in rows if r[1] is not None and int(r[1]) - int(r[0]) <= deadline_ms)
        closed = sum(1 for r in rows if r[2] in FINAL)
        loop = sum(
            1 for r in rows if r[1] is not None and int(r[1]) - int(r[0]) <= deadline_ms and r[2] in FINAL
        )
        open_now = int(
            await self._db.fetchval(
                "SELECT COUNT(*) FROM needs WHERE group_id = ? AND status NOT IN ('done', 'declined', 'duplicate')",
                group_id,
            )
        )
        overdue = int(
            await self._db.fetchval(
                "SELECT COUNT(*) FROM needs WHERE group_id = ? AND status = 'open' AND first_response_at IS NULL "
                "AND created_at < ?",
                group_id,
                now_ms - deadline_ms,
            )
        )
        top, _ = await self.browse(group_id, "top", "", 3, 0)
        return NeedStats(
            submitted=n,
            responded=len(waits),
            median_response_ms=int(statistics.median(waits)) if waits else None,
            p90_response_ms=_percentile(waits, 0.9),
            within_deadline=in_time / n if n else None,
            closed=closed / n if n else None,
            closed_loop=loop / n if n else None,
            open_now=open_now,
            overdue_now=overdue,
            top_open=top,
        )

    async def new_since(self, group_id: int, since_ms: int, limit: int) -> tuple[list[Need], int]:
        """Needs submitted after `since_ms`, most voted first, and how many there were."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM needs WHERE group_id = ? AND created_at > ? ORDER BY votes DESC, id LIMIT ?",
            group_id,
            since_ms,
            limit,
        )
        total = await self._db.fetchval(
            "SELECT COUNT(*) FROM needs WHERE group_id = ? AND created_at > ?", group_id, since_ms
        )
        return [_need(r) for r in rows], int(total or 0)

    async def changed_for(self, group_id: int, user_id: str, since_ms: int, limit: int) -> list[Need]:
        """Needs this member submitted or voted for whose status changed after `since_ms`."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM needs n WHERE n.group_id = ? "
            "AND (n.user_id = ? OR EXISTS (SELECT 1 FROM need_votes v WHERE v.need_id = n.id AND v.user_id = ?)) "
            "AND EXISTS (SELECT 1 FROM need_history h WHERE h.need_id = n.id AND h.at > ?) "
            "ORDER BY n.id DESC LIMIT ?",
            group_id,
            user_id,
            user_id,
            since_ms,
            limit,
        )
        return [_need(r) for r in rows]


def _percentile(ordered: list[int], q: float) -> int | None:
    """The nearest-rank percentile: the smallest value with at least q of them at or below it."""
    if not ordered:
        return None
    rank = max(1, math.ceil(round(q * len(ordered), 6)))
    return ordered[min(rank, len(ordered)) - 1]
