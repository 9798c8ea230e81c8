"""Throughput of the message hot path, against a commit-per-message baseline in the same process.

    .venv/bin/python bench/dispatch.py [messages]

Prints messages/s for: (1) the baseline, one aiosqlite commit per message; (2) the batched activity
writer alone; (3) the whole App.handle pipeline for plain chat messages (dedup, group and settings
cache, activity, hooks, command matching).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import App
from bot.clock import FakeClock, to_ms
from bot.events import ChatRef, MessagePosted, UserRef
from bot.outbox import Outbox
from config.group_settings import from_overrides
from handlers import default_features
from storage.activity import ActivityWriter
from storage.db import SqliteDatabase
from storage.groups import GroupRepo
from storage.migrate import migrate
from tests.helpers import T0

USERS = 200


async def baseline(db: SqliteDatabase, gid: int, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO members (group_id, user_id, name, first_seen_at, last_seen_at, message_count) "
                "VALUES (?, ?, 'u', ?, ?, 1) ON CONFLICT (group_id, user_id) DO UPDATE SET "
                "last_seen_at = excluded.last_seen_at, message_count = members.message_count + 1",
                gid,
                f"b{i % USERS}",
                i,
                i,
            )
            await tx.execute(
                "INSERT INTO activity_daily (group_id, user_id, day, messages) VALUES (?, ?, '2026-11-22', 1) "
                "ON CONFLICT (group_id, day, user_id) DO UPDATE SET messages = activity_daily.messages + 1",
                gid,
                f"b{i % USERS}",
            )
    return n / (time.perf_counter() - start)


async def batched(db: SqliteDatabase, gid: int, n: int) -> float:
    writer = ActivityWriter(db)
    start = time.perf_counter()
    for i in range(n):
        await writer.touch(
            gid, f"w{i % USERS}", name="u", username=None, is_bot=False, at_ms=i, day="2026-11-22", hour=9
        )
    await writer.flush()
    return n / (time.perf_counter() - start)


async def pipeline(db: SqliteDatabase, n: int, *, after_start: timedelta) -> float:
    """Events stamped `after_start` past the bot's start: in the first minutes the dedup check also asks
    the database (redeliveries from before a restart); later only memory."""
    clock = FakeClock(T0)
    app = App(db, clock, Outbox(), default_features(), manual_scheduler=True)
    await app.start()
    chat = ChatRef("bench", "g", "G")
    users = [UserRef(f"p{i}", f"P{i}") for i in range(USERS)]
    events = [
        MessagePosted(
            event_key=f"bench:{after_start}:{i}",
            chat=chat,
            user=users[i % USERS],
            is_admin=False,
            at=T0 + after_start,
            message_id=str(i),
            text=f"message number {i} about things",
        )
        for i in range(n)
    ]
    start = time.perf_counter()
    for event in events:
        await app.handle(event)
    await app.stop()
    return n / (time.perf_counter() - start)


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = await SqliteDatabase.open(f"{tmp}/bench.db")
        try:
            await migrate(db)
            gid = (await GroupRepo(db, from_overrides).ensure("bench", "g", "G", to_ms(T0))).id
            base = await baseline(db, gid, n // 4)
            batch = await batched(db, gid, n)
            fresh = await pipeline(db, n, after_start=timedelta(0))
            steady = await pipeline(db, n, after_start=timedelta(hours=1))
        finally:
            await db.close()
    print(f"messages: {n} (baseline: {n // 4}), users: {USERS}, SQLite file in a temp dir")
    print(f"baseline, commit per message : {base:>10,.0f} msg/s")
    print(f"activity writer, batched     : {batch:>10,.0f} msg/s  ({batch / base:.1f}x baseline)")
    print(f"App.handle, just started     : {fresh:>10,.0f} msg/s  ({fresh / base:.1f}x baseline)")
    print(f"App.handle, up > 10 minutes  : {steady:>10,.0f} msg/s  ({steady / base:.1f}x baseline)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
