"""The points ledger and what is derived from it. Every write goes through `award`, in one transaction:
the ledger row (unique on its cause), the balance, and the day's earnings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from storage.db import Database, Executor


@dataclass(frozen=True, slots=True)
class Balance:
    balance: int
    earned: int


Kind = Literal["earn", "spend", "refund"]


class InsufficientPoints(Exception):
    """A deduction larger than the balance: nothing was written."""


async def award(
    tx: Executor,
    group_id: int,
    user_id: str,
    delta: int,
    *,
    reason: str,
    source_key: str,
    actor: str | None,
    at_ms: int,
    day: str,
    kind: Kind | None = None,
) -> Balance | None:
    """Append one ledger row and update what derives from it; returns the balance after it, or None when
    this cause was already paid (a redelivery: nothing written).

    `kind` defaults to "earn" for a positive delta and "spend" for a negative one; a "refund" gives points
    back without counting as earnings (levels, boards). A negative delta needs the balance to cover it
    (InsufficientPoints otherwise). Call inside a transaction. The balance comes back from the same
    statement that changes it (RETURNING), so a caller never reads it again.
    """
    kind = kind or ("earn" if delta > 0 else "spend")
    inserted = await tx.execute_rowcount(
        "INSERT INTO points_ledger (group_id, user_id, delta, reason, source_key, actor, at, day, kind) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_key) DO NOTHING",
        group_id,
        user_id,
        delta,
        reason,
        source_key,
        actor,
        at_ms,
        day,
        kind,
    )
    if not inserted:
        return None
    if delta < 0:
        row = await tx.fetchone(
            "UPDATE points_balance SET balance = balance + ? WHERE group_id = ? AND user_id = ? AND balance >= ? "
            "RETURNING balance, earned",
            delta,
            group_id,
            user_id,
            -delta,
        )
        if row is None:
            raise InsufficientPoints
        return Balance(int(row[0]), int(row[1]))
    row = await tx.fetchone(
        "INSERT INTO points_balance (group_id, user_id, balance, earned) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (group_id, user_id) DO UPDATE SET balance = points_balance.balance + excluded.balance, "
        "earned = points_balance.earned + excluded.earned RETURNING balance, earned",
        group_id,
        user_id,
        delta,
        delta if kind == "earn" else 0,
    )
    assert row is not None
    if kind == "earn":
        await tx.executemany(
            "INSERT INTO points_period (group_id, period, user_id, earned) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (group_id, period, user_id) DO UPDATE SET earned = points_period.earned + excluded.earned",
            [(group_id, period, user_id, delta) for period in periods(day)],
        )
    return Balance(int(row[0]), int(row[1]))


@dataclass(frozen=True, slots=True)
class Award:
    """One batched earning (points for a plain message); see `award_many`."""

    group_id: int
    user_id: str
    delta: int
    reason: str
    source_key: str
    at_ms: int
    day: str


async def award_many(tx: Executor, awards: list[Award]) -> int:
    """Append earnings in bulk, inside the caller's transaction; returns how many were new.

    Idempotent like `award`: a cause already in the ledger (or twice in the batch) is skipped, and
    balances and period earnings grow by exactly the rows inserted, so balance = ledger sum holds."""
    fresh: dict[str, Award] = {}
    for a in awards:
        fresh.setdefault(a.source_key, a)
    keys = list(fresh)
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        marks = ", ".join("?" * len(chunk))
        for row in await tx.fetchall(
            f"SELECT source_key FROM points_ledger WHERE source_key IN ({marks})", *chunk
        ):
            fresh.pop(row[0], None)
    if not fresh:
        return 0
    new = list(fresh.values())
    await tx.executemany(
        "INSERT INTO points_ledger (group_id, user_id, delta, reason, source_key, actor, at, day, kind) "
        "VALUES (?, ?, ?, ?, ?, NULL, ?, ?, 'earn')",
        [(a.group_id, a.user_id, a.delta, a.reason, a.source_key, a.at_ms, a.day) for a in new],
    )
    totals: dict[tuple[int, str], int] = {}
    by_period: dict[tuple[int, str, str], int] = {}
    for a in new:
        totals[(a.group_id, a.user_id)] = totals.get((a.group_id, a.user_id), 0) + a.delta
        for period in periods(a.day):
            k = (a.group_id, period, a.user_id)
            by_period[k] = by_period.get(k, 0) + a.delta
    await tx.executemany(
        "INSERT INTO points_balance (group_id, user_id, balance, earned) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (group_id, user_id) DO UPDATE SET balance = points_balance.balance + excluded.balance, "
        "earned = points_balance.earned + excluded.earned",
        [(g, u, n, n) for (g, u), n in totals.items()],
    )
    await tx.executemany(
        "INSERT INTO points_period (group_id, period, user_id, earned) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (group_id, period, user_id) DO UPDATE SET earned = points_period.earned + excluded.earned",
        [(g, p, u, n) for (g, p, u), n in by_period.items()],
    )
    return len(new)


def periods(day: str) -> tuple[str, str, str]:
    """The day, week (by its Monday) and month a group day belongs to."""
    d = date.fromisoformat(day)
    return f"d:{day}", f"w:{(d - timedelta(days=d.weekday())).isoformat()}", f"m:{day[:7]}"


class PointsRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def balance(self, group_id: int, user_id: str, tx: Executor | None = None) -> Balance:
        row = await (tx or self._db).fetchone(
            "SELECT balance, earned FROM points_balance WHERE group_id = ? AND user_id = ?", group_id, user_id
        )
        return Balance(0, 0) if row is None else Balance(int(row["balance"]), int(row["earned"]))

    @staticmethod
    def _scope(group_id: int, period: str | None) -> tuple[str, str, tuple[object, ...]]:
        """The table and filter of one board: all time (balances) or one period ("d:…", "w:…", "m:…").
        Boards show current members: one who left keeps their ledger, not their place (`away`, kept by
        MemberRepo on a leave and a return, for the balance and the periods current then)."""
        if period is None:
            return "points_balance", "group_id = ? AND away = 0", (group_id,)
        return "points_period", "group_id = ? AND period = ? AND away = 0", (group_id, period)

    async def top(
        self, group_id: int, period: str | None, limit: int, offset: int = 0
    ) -> list[tuple[str, int]]:
        """Points earned in a period (None = all time), best first; ties by user id."""
        table, where, args = self._scope(group_id, period)
        rows = await self._db.fetchall(
            f"SELECT user_id, earned FROM {table} WHERE {where} AND earned > 0 "
            "ORDER BY earned DESC, user_id LIMIT ? OFFSET ?",
            *args,
            limit,
            offset,
        )
        return [(r[0], int(r[1])) for r in rows]

    async def ranked(self, group_id: int, period: str | None, cap: int) -> int:
        """How many members are on the board of a period, counted up to `cap` (cap + 1 means "more"):
        a page count needs no more, and counting stops there however large the group."""
        table, where, args = self._scope(group_id, period)
        return int(
            await self._db.fetchval(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {where} AND earned > 0 LIMIT ?) AS b",
                *args,
                cap + 1,
            )
        )

    async def rank(
        self, group_id: int, user_id: str, period: str | None, cap: int = 10_000
    ) -> tuple[int, int] | None:
        """(rank, points) of one member in a period, or None if they earned nothing in it.

        The rank counts the members ahead along the board's index, up to `cap`: a rank above it comes back
        as cap + 1 (shown as "cap+"), so the query costs at most `cap` index steps in any group."""
        table, where, args = self._scope(group_id, period)
        mine = await self._db.fetchval(
            f"SELECT earned FROM {table} WHERE {where} AND user_id = ?", *args, user_id
        )
        if not mine:
            return None
        ahead = await self._db.fetchval(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {where} "
            "AND (earned > ? OR (earned = ? AND user_id < ?)) LIMIT ?) AS a",
            *args,
            mine,
            mine,
            user_id,
            cap,
        )
        return int(ahead) + 1, int(mine)

    async def ledger_sum(self, group_id: int, user_id: str) -> int:
        return int(
            await self._db.fetchval(
                "SELECT COALESCE(SUM(delta), 0) FROM points_ledger WHERE group_id = ? AND user_id = ?",
                group_id,
                user_id,
            )
        )
