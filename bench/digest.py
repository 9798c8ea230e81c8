"""The health digest at scale, beside baselines from the same run.

    .venv/bin/python bench/digest.py [members] [ledger rows] [--json]

One group of `members` members (default 100,000) with 90 days of activity: about 12% of the members
post on a given day, 2.8 messages each on average (about 3M messages over the 90 days, kept as
~1.1M member-day rows and 2,160 hour rows), joins and leaves, 3,000 check-ins a day, moderation cases,
needs, and a points ledger of `ledger rows` rows (default 1,000,000). SQLite, the embedded default.

1. The figures of a weekly digest, every section (`DigestFeature.compute`: one indexed query per
   section, this week and the week before), beside one pass over the whole 90 days of member-day rows
   (what reading the aggregates wholesale costs). Goal: under 1 s.
2. Both charts rendered to PNG, beside an empty figure saved the same way (matplotlib's fixed cost).
   Goal: under 2 s.
3. `/export ledger all` of every ledger row to a CSV file: the time, and the peak of Python memory
   (tracemalloc) beside the same rows fetched whole into memory.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
import tracemalloc
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import figures
from bench.points import timed
from bot import charts
from bot.app import App
from bot.clock import FakeClock
from bot.events import ChatRef, MessagePosted, UserRef
from bot.outbox import Outbox
from handlers import default_features
from handlers.digest import SECTIONS, DigestFeature
from handlers.exports import ExportsFeature
from storage.db import SqliteDatabase
from storage.digest import Period
from tests.helpers import SHANGHAI

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
DAYS = 90
DAY_MS = 86_400_000


def day_ms(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, 12, tzinfo=SHANGHAI).timestamp() * 1000)


async def fill(db: SqliteDatabase, gid: int, members: int, ledger: int) -> int:
    """Returns how many messages the aggregates stand for."""
    rng = random.Random(7)
    first = NOW.date() - timedelta(days=DAYS)
    ids = [f"{100_000_000 + i}" for i in range(members)]
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO members (group_id, user_id, name, username, is_bot, first_seen_at, last_seen_at, "
            "message_count, joined_at) VALUES (?, ?, ?, NULL, 0, ?, ?, 0, ?)",
            [(gid, u, f"成员{i}", day_ms(first), day_ms(first) + rng.randrange(DAYS) * DAY_MS, None)
             for i, u in enumerate(ids)],
        )  # fmt: skip
    messages = 0
    regulars = ids[: members // 4]  # a quarter of the group does most of the talking
    for n in range(DAYS):
        d = (first + timedelta(days=n)).isoformat()
        posters = set(rng.sample(regulars, members * 9 // 100)) | set(rng.sample(ids, members * 3 // 100))
        daily = [(gid, u, d, 1 + int(rng.expovariate(1 / 2.3))) for u in posters]
        messages += sum(r[3] for r in daily)
        total = sum(r[3] for r in daily)
        weights = [1 + (3 if 19 <= h <= 22 else 0) + (1 if 9 <= h <= 12 else 0) for h in range(24)]
        hourly = [(gid, d, h, total * w // sum(weights)) for h, w in enumerate(weights)]
        joins = [(gid, rng.choice(ids), "join", day_ms(first + timedelta(days=n)) + i) for i in range(300)]
        leaves = [(gid, rng.choice(ids), "leave", day_ms(first + timedelta(days=n)) + i) for i in range(100)]
        checkers = rng.sample(regulars, min(3000, len(regulars)))
        async with db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO activity_daily (group_id, user_id, day, messages) VALUES (?, ?, ?, ?)", daily
            )
            await tx.executemany(
                "INSERT INTO activity_hourly (group_id, day, hour, messages) VALUES (?, ?, ?, ?)", hourly
            )
            await tx.executemany(
                "INSERT INTO membership_events (group_id, user_id, kind, at) VALUES (?, ?, ?, ?)",
                joins + leaves,
            )
            await tx.executemany(
                "INSERT INTO checkins (group_id, user_id, day, at, streak, points, rank) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(gid, u, d, day_ms(first + timedelta(days=n)), 1 + i % 30, 10, i + 1) for i, u in enumerate(checkers)],
            )  # fmt: skip
            await tx.executemany(
                "INSERT INTO mod_cases (group_id, user_id, user_name, action, reason, actor, at, kind) "
                "VALUES (?, ?, '', ?, '', 'auto', ?, ?)",
                [(gid, rng.choice(ids), rng.choice(("warn", "mute", "delete")), day_ms(first + timedelta(days=n)) + i,
                  rng.choice(("word", "link", "flood"))) for i in range(50)],
            )  # fmt: skip
            await tx.executemany(
                "INSERT INTO needs (group_id, user_id, text, status, votes, created_at, day, first_response_at, "
                "source_key) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?)",
                [(gid, rng.choice(ids), f"需求 {n}-{i}", rng.randrange(30), day_ms(first + timedelta(days=n)), d,
                  day_ms(first + timedelta(days=n)) + rng.randrange(96) * 3_600_000, f"need:{n}:{i}") for i in range(5)],
            )  # fmt: skip
    per_day = ledger // DAYS
    for n in range(DAYS):
        d = first + timedelta(days=n)
        async with db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO points_ledger (group_id, user_id, delta, reason, source_key, actor, at, day, kind) "
                "VALUES (?, ?, ?, 'checkin', ?, NULL, ?, ?, 'earn')",
                [(gid, rng.choice(regulars), 10, f"l:{n}:{i}", day_ms(d) + i, d.isoformat()) for i in range(per_day)],
            )  # fmt: skip
    await db.execute("ANALYZE")
    return messages


async def main(members: int, ledger: int) -> None:
    figures.begin()
    with tempfile.TemporaryDirectory() as tmp:
        db = await SqliteDatabase.open(f"{tmp}/digest.db")
        app = App(
            db, FakeClock(NOW), Outbox(), default_features(), manual_scheduler=True, files_dir=f"{tmp}/files"
        )
        await app.start()
        group = await app.groups.ensure("bench", "g1", "基准群", 0)
        started = time.perf_counter()
        messages = await fill(db, group.id, members, ledger)
        print(f"built {members:,} members, {messages:,} messages' worth of aggregates over {DAYS} days and "
              f"{ledger:,} ledger rows in {time.perf_counter() - started:.0f} s")  # fmt: skip
        ctx = await app.context_for_group(group.id)
        assert ctx is not None
        ctx.event = MessagePosted(
            event_key="bench", chat=ChatRef("bench", "g1", "基准群"), user=UserRef("admin", "admin"),
            is_admin=True, at=NOW, message_id="1", text="/stats",
        )  # fmt: skip
        digest = next(f for f in app.features if isinstance(f, DigestFeature))
        period = Period.ending(NOW.date() - timedelta(days=1), 7, "Asia/Shanghai")

        report = None

        async def compute() -> None:
            nonlocal report
            report = await digest.compute(ctx, period, SECTIONS)

        async def wholesale() -> None:
            await db.fetchone(
                "SELECT COUNT(*), SUM(messages), COUNT(DISTINCT user_id) FROM activity_daily WHERE group_id = ?",
                group.id,
            )

        took = await timed(3)(compute)
        base = await timed(3)(wholesale)
        assert report is not None and report.activity is not None
        print(f"digest: {took:.0f} ms (week: {report.activity.messages:,} messages, {report.activity.active:,} "
              f"posted, MAU {report.activity.mau:,}); one pass over 90 days of rows: {base:.0f} ms")  # fmt: skip
        figures.record("digest figures, 100k members", took, "ms", baseline=base,
                       baseline_name="90-day scan", goal="< 1000 ms")  # fmt: skip

        async def render() -> None:
            files = await digest.render(ctx, report)
            assert len(files) == 2

        async def empty() -> None:
            def draw() -> bytes:
                fig = charts._figure(8.0, 4.2)
                fig.add_subplot()
                return charts._png(fig)

            await asyncio.to_thread(draw)

        await render()  # the font loads once per process
        took = await timed(3)(render)
        base = await timed(3)(empty)
        print(f"charts: {took:.0f} ms for both (daily reads included); an empty figure: {base:.0f} ms")
        figures.record(
            "both charts", took, "ms", baseline=base, baseline_name="empty figure", goal="< 2000 ms"
        )

        exports = next(f for f in app.features if isinstance(f, ExportsFeature))
        path = f"{tmp}/ledger.csv"
        start = time.perf_counter()
        rows = await exports.write(ctx, "ledger", None, path)
        took = time.perf_counter() - start
        size = await asyncio.to_thread(os.path.getsize, path)
        tracemalloc.start()
        await exports.write(ctx, "ledger", None, path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        whole = await db.fetchall("SELECT * FROM points_ledger WHERE group_id = ?", group.id)
        _, whole_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del whole
        print(f"export: {rows:,} ledger rows, {size / 1e6:.0f} MB of CSV in {took:.1f} s "
              f"({rows / took:,.0f} rows/s); peak Python memory {peak / 1e6:.1f} MB, "
              f"the same rows fetched whole {whole_peak / 1e6:.0f} MB")  # fmt: skip
        figures.record("export ledger, rows/s", rows / took, "/s", goal="streams")
        figures.record("export ledger, peak memory", peak / 1e6, "MB", baseline=whole_peak / 1e6,
                       baseline_name="fetched whole")  # fmt: skip
        await app.stop()
        await db.close()
    figures.end("digest")


if __name__ == "__main__":
    rest = figures.args()
    asyncio.run(main(int(rest[0]) if rest else 100_000, int(rest[1]) if len(rest) > 1 else 1_000_000))
