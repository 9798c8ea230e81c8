"""Leaderboards and check-ins at scale, against simple baselines in the same process.

    .venv/bin/python bench/points.py [members] [ledger_rows]

1. `/top week` from per-day aggregates (what Qunbot does) vs summing the raw ledger (the baseline),
   over `ledger_rows` ledger rows (default 1,000,000) for `members` members (default 100,000).
2. 10,000 members checking in through the whole App.handle path vs a naive commit-per-row insert.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import figures
from bot.actions import ActionResult
from bot.app import App
from bot.clock import FakeClock
from bot.events import ChatRef, MessagePosted, UserRef
from bot.outbox import Outbox, RateLimits
from handlers import default_features
from handlers.points import RANK_CAP
from storage.db import SqliteDatabase
from storage.migrate import migrate
from storage.points import PointsRepo
from tests.helpers import T0

DAYS = 30


class NullAdapter:
    """Accepts every action at once: measures the bot, not a network."""

    platform = "bench"
    limits = RateLimits()

    async def perform(self, action: object) -> ActionResult:
        return ActionResult(ok=True, message_id="1")


async def fill(db: SqliteDatabase, gid: int, members: int, rows: int) -> None:
    rng = random.Random(7)
    first = date(2026, 10, 24)
    sql = (
        "INSERT INTO points_ledger (group_id, user_id, delta, reason, source_key, at, day) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    batch = []
    for i in range(rows):
        day = (first + timedelta(days=rng.randrange(DAYS))).isoformat()
        batch.append((gid, f"u{rng.randrange(members)}", rng.randint(1, 30), "bench", f"b:{i}", 0, day))
        if len(batch) == 50_000:
            await db.executemany(sql, batch)
            batch.clear()
    await db.executemany(sql, batch)
    # The aggregates award() keeps up to date row by row, built here in bulk.
    for prefix, key in (
        ("d:", "day"),
        ("w:", "date(day, 'weekday 0', '-6 days')"),
        ("m:", "substr(day, 1, 7)"),
    ):
        await db.execute(
            f"INSERT INTO points_period (group_id, period, user_id, earned) SELECT group_id, "
            f"'{prefix}' || {key}, user_id, SUM(delta) FROM points_ledger GROUP BY 1, 2, 3"
        )
    await db.execute(
        "INSERT INTO points_balance (group_id, user_id, balance, earned) SELECT group_id, user_id, "
        "SUM(delta), SUM(delta) FROM points_ledger GROUP BY group_id, user_id"
    )


def timed(runs: int):  # type: ignore[no-untyped-def]
    async def run(fn):  # type: ignore[no-untyped-def]
        best = float("inf")
        for _ in range(runs):
            start = time.perf_counter()
            await fn()
            best = min(best, time.perf_counter() - start)
        return best * 1000

    return run


async def leaderboard(members: int, rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = await SqliteDatabase.open(f"{tmp}/top.db")
        try:
            await migrate(db)
            await db.execute(
                "INSERT INTO groups (platform, chat_id, title, created_at) VALUES (?, 'g', 'G', 0)",
                NullAdapter.platform,
            )
            gid = int(await db.fetchval("SELECT id FROM groups"))
            t0 = time.perf_counter()
            await fill(db, gid, members, rows)
            print(f"filled {rows:,} ledger rows for {members:,} members in {time.perf_counter() - t0:.1f}s")
            repo = PointsRepo(db)
            since = "2026-11-16"  # a Monday
            ours = await timed(5)(lambda: repo.top(gid, f"w:{since}", 10))
            rank = await timed(5)(lambda: repo.rank(gid, "u42", f"w:{since}", RANK_CAP))
            base = await timed(3)(
                lambda: db.fetchall(
                    "SELECT user_id, SUM(delta) AS t FROM points_ledger WHERE group_id = ? AND day >= ? "
                    "GROUP BY user_id ORDER BY t DESC LIMIT 10",
                    gid,
                    since,
                )
            )
            alltime = await timed(5)(lambda: repo.top(gid, None, 10))
            print(
                f"/top week, per-period index  : {ours:8.1f} ms   (baseline, ledger scan: {base:.1f} ms, "
                f"{base / ours:.1f}x)"
            )
            print(f"caller's rank in the week     : {rank:8.1f} ms")
            print(f"/top all, balance index       : {alltime:8.2f} ms")
            figures.record(
                "/top week board read", ours, "ms", baseline=base, baseline_name="ledger scan", goal="≤ 2 ms"
            )
            figures.record("caller's rank in the week", rank, "ms", goal="≤ 2 ms (whole /top)")
            figures.record("/top all board read", alltime, "ms")
            whole_week, whole_all = await whole_top(db)
            print(f"/top week, whole command      : {whole_week:8.2f} ms   (/top all: {whole_all:.2f} ms)")
            figures.record("/top week whole command", whole_week, "ms", goal="≤ 2 ms")
            figures.record("/top all whole command", whole_all, "ms", goal="≤ 2 ms")
        finally:
            await db.close()


async def whole_top(db: SqliteDatabase) -> tuple[float, float]:
    """`/top week` and `/top` through App.handle, asked by a member in the middle of the board (so the
    caller's rank is computed too), every board member with a name and one in ten having left."""
    gid = int(await db.fetchval("SELECT id FROM groups"))
    users = [r[0] for r in await db.fetchall("SELECT user_id FROM points_balance WHERE group_id = ?", gid)]
    await db.executemany(
        "INSERT INTO members (group_id, user_id, name, first_seen_at, last_seen_at, left_at) VALUES (?, ?, ?, ?, 0, ?)",
        [(gid, u, f"Member {u}", 0, i if i % 10 == 0 else None) for i, u in enumerate(users)],
    )
    await db.execute(  # what MemberRepo.record_leave does for each of them
        "UPDATE points_balance SET away = 1 WHERE user_id IN (SELECT user_id FROM members WHERE left_at IS NOT NULL)"
    )
    await db.execute(
        "UPDATE points_period SET away = 1 WHERE user_id IN (SELECT user_id FROM members WHERE left_at IS NOT NULL)"
    )
    outbox = Outbox()
    outbox.register(NullAdapter())
    clock = FakeClock(datetime(2026, 11, 22, 12, 0, tzinfo=T0.tzinfo))
    app = App(db, clock, outbox, default_features(), manual_scheduler=True)
    await app.start()
    chat = ChatRef(NullAdapter.platform, "g", "G")
    middle = sorted(users)[len(users) // 2 :]
    n = 0

    async def ask(text: str) -> None:
        nonlocal n
        n += 1
        asker = middle[n]  # a different member each time: one asking twice would be a repeat
        clock.advance(timedelta(seconds=1))
        await app.handle(
            MessagePosted(
                event_key=f"top:{n}",
                chat=chat,
                user=UserRef(asker, f"Member {asker}"),
                is_admin=False,
                at=clock.now(),
                message_id=f"t{n}",
                text=text,
            )
        )

    try:
        await ask("/top week")  # warm: the group, its settings, the asker
        week = await timed(20)(lambda: ask("/top week"))
        alltime = await timed(20)(lambda: ask("/top"))
    finally:
        await app.stop()
    return week, alltime


async def checkins(count: int = 10_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = await SqliteDatabase.open(f"{tmp}/c.db")
        try:
            outbox = Outbox()
            outbox.register(NullAdapter())
            app = App(db, FakeClock(T0), outbox, default_features(), manual_scheduler=True)
            await app.start()
            chat = ChatRef(NullAdapter.platform, "g", "G")
            events = [
                MessagePosted(
                    event_key=f"c:{i}",
                    chat=chat,
                    user=UserRef(f"m{i}", f"M{i}"),
                    is_admin=False,
                    at=T0,
                    message_id=str(i),
                    text="签到",
                )
                for i in range(count)
            ]
            start = time.perf_counter()
            for event in events:
                await app.handle(event)
            ours = count / (time.perf_counter() - start)
            await app.stop()
            await db.execute("CREATE TABLE naive (user_id TEXT PRIMARY KEY, day TEXT, points INTEGER)")
            start = time.perf_counter()
            for i in range(count):
                async with db.transaction() as tx:
                    await tx.execute("INSERT INTO naive VALUES (?, '2026-11-22', 10)", f"m{i}")
            naive = count / (time.perf_counter() - start)
        finally:
            await db.close()
    figures.record(
        "check-ins through App.handle",
        ours,
        "/s",
        baseline=naive,
        baseline_name="one insert per commit",
        goal="≥ 2,000/s",
    )
    print(
        f"check-ins through App.handle  : {ours:8,.0f} /s  ({count:,} members in {count / ours:.1f}s; the "
        f"naive one-insert-per-commit baseline does {naive:,.0f} /s, {ours / naive:.2f}x)"
    )


async def main() -> None:
    figures.begin()
    argv = figures.args()
    members = int(argv[0]) if len(argv) > 0 else 100_000
    rows = int(argv[1]) if len(argv) > 1 else 1_000_000
    await leaderboard(members, rows)
    await checkins()
    figures.end("points")


if __name__ == "__main__":
    asyncio.run(main())
