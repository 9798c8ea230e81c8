"""Campaigns at scale, beside baselines from the same run.

    .venv/bin/python bench/campaigns.py [campaigns] [groups] [due] [--json]

1. Start with `campaigns` campaigns (default 10,000) over `groups` groups (default 1,000), daily,
   weekly and every-N-hours, in live mode (APScheduler's AsyncIOScheduler arms every job): the time
   `App.start` takes, beside the same start with no campaigns. Goal: under 2 s.
2. The scheduler's overhead per fire: a campaign's fire (its row, the rendered post, the unit's commit)
   through App._run_job, beside a job that does nothing through the same path.
3. `due` campaigns (default 1,000), one per group, all at 20:00, delivered through the real outbox to a
   fake that answers 429 past Telegram's limits (bench/recall.py): the rate as a share of 30/s (goal
   ≥ 90%), posts lost (goal 0), 429s (goal 0).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import figures
from bench.recall import TelegramLimits
from bot import actions as A
from bot.app import App
from bot.clock import FakeClock, SystemClock, to_ms
from bot.outbox import TELEGRAM_LIMITS, Outbox
from handlers import default_features
from storage.db import SqliteDatabase
from storage.jobs import JobRecord
from tests.helpers import SHANGHAI, RecordingAdapter

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=SHANGHAI)
EVENING = datetime(2026, 11, 22, 20, 0, tzinfo=SHANGHAI)
SCHEDULES = [
    ("cron", {"hour": 20, "minute": 0}, "每天 20:00"),
    ("cron", {"day_of_week": "mon", "hour": 9, "minute": 0}, "每周一 09:00"),
    ("interval", {"hours": 6}, "every 6h"),
]


async def fill(db: SqliteDatabase, app: App, campaigns: int, groups: int, now: datetime) -> list[int]:
    gids = [(await app.groups.ensure("bench", f"g{i}", f"g{i}", to_ms(now))).id for i in range(groups)]
    rows, jobs = [], []
    for i in range(campaigns):
        kind, args, words = SCHEDULES[i % len(SCHEDULES)]
        trigger = {**args, "timezone": "Asia/Shanghai"}
        if kind == "interval":
            trigger["start"] = now.isoformat()
        rows.append(
            (
                gids[i % groups],
                f"活动 {i}：{{date}} 见",
                kind,
                json.dumps(trigger),
                words,
                "{}",
                "bench",
                to_ms(now),
            )
        )
    await db.executemany(
        "INSERT INTO campaigns (group_id, text, trigger_type, trigger_args, schedule_text, options, created_by, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    ids = [(int(r[0]), int(r[1]), r[2], r[3]) for r in await db.fetchall(
        "SELECT id, group_id, trigger_type, trigger_args FROM campaigns ORDER BY id")]  # fmt: skip
    for cid, gid, kind, args in ids:
        jobs.append(
            JobRecord(f"campaign:{cid}", "campaigns.fire", kind, json.loads(args), gid, {"campaign": cid})
        )
    for job in jobs:
        await app.jobs.save(job, to_ms(now))
    return [cid for cid, *_ in ids]


async def start_time(campaigns: int, groups: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        timings = []
        for count in (0, campaigns):
            db = await SqliteDatabase.open(f"{tmp}/s{count}.db")
            app = App(db, SystemClock(), Outbox(), default_features())
            await app.start()
            await fill(db, app, count, groups, datetime.now(SHANGHAI)) if count else None
            await app.stop()
            again = App(db, SystemClock(), Outbox(), default_features())
            start = time.perf_counter()
            await again.start()
            timings.append(time.perf_counter() - start)
            await again.stop()
            await db.close()
        base, took = timings
        print(f"start with {campaigns} campaigns over {groups} groups: {took:.2f} s (none: {base:.2f} s)")
        figures.record(f"start, {campaigns:,} campaigns / {groups:,} groups", took * 1000, "ms",
                       baseline=base * 1000, baseline_name="no campaigns", goal="< 2,000 ms")  # fmt: skip


async def per_fire(fires: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = await SqliteDatabase.open(f"{tmp}/f.db")
        outbox = Outbox()
        sink = RecordingAdapter()  # no limits: the cost of the fire alone
        sink.platform = "bench"  # type: ignore[misc]
        outbox.register(sink)
        app = App(db, FakeClock(EVENING), outbox, default_features(), manual_scheduler=True)
        await app.start()
        ids = await fill(db, app, fires, fires, T0)
        jobs = {j.id: j for j in await app.jobs.all()}
        start = time.perf_counter()
        for cid in ids:
            await app._run_job(jobs[f"campaign:{cid}"], EVENING)
        took = (time.perf_counter() - start) / fires * 1e6
        app._job_funcs["bench.noop"] = _noop
        noop = JobRecord("noop", "bench.noop", "cron", {"minute": 0}, None, {})
        start = time.perf_counter()
        for _ in range(fires):
            await app._run_job(noop, EVENING)
        base = (time.perf_counter() - start) / fires * 1e6
        posted = sum(1 for a in sink.actions if isinstance(a, A.Send))
        print(f"per fire: {took:.0f} µs ({posted} posted) vs an empty job {base:.0f} µs")
        figures.record("one campaign fire, whole (row, post, commit, send)", took, "µs", baseline=base,
                       baseline_name="an empty job, same path")  # fmt: skip
        await app.stop()
        await db.close()


async def _noop(*_args: object) -> None:
    return None


async def same_minute(due: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = await SqliteDatabase.open(f"{tmp}/m.db")
        outbox = Outbox()
        fake = TelegramLimits()
        outbox.register(fake)
        clock = FakeClock(T0)
        app = App(db, clock, outbox, default_features(), manual_scheduler=True)
        await app.start()
        await fill(db, app, due, due, T0)  # one per group: the per-group limit is not what is measured
        await app.stop()
        app = App(db, clock, outbox, default_features(), manual_scheduler=True)
        await app.start()
        await app.scheduler.advance_to(EVENING - timedelta(minutes=1))
        await asyncio.sleep(1.1)
        fake.delivered, fake.rejected = [], 0
        start = time.perf_counter()
        await app.scheduler.advance_to(EVENING)
        took = time.perf_counter() - start
        posts = sum(1 for a in fake.delivered if isinstance(a, A.Send) and a.text.startswith("活动"))
        daily = sum(1 for i in range(due) if i % len(SCHEDULES) == 0)
        share = posts / TELEGRAM_LIMITS.overall_per_second / took * 100  # type: ignore[operator]
        print(
            f"same minute: {posts} of {daily} daily posts in {took:.1f} s = {share:.1f}% of 30/s; 429s {fake.rejected}"
        )
        figures.record(f"{daily:,} posts due at 20:00: rate as share of 30/s", share, "%", goal=">= 90%")
        figures.record("posts lost", float(daily - posts), "", goal="0")
        figures.record("429s from the platform", float(fake.rejected), "", goal="0")
        await app.stop()
        await db.close()


async def main() -> None:
    figures.begin()
    args = figures.args()
    campaigns = int(args[0]) if args else 10_000
    groups = int(args[1]) if len(args) > 1 else 1_000
    due = int(args[2]) if len(args) > 2 else 3_000  # a third of them daily at 20:00: 1,000 due at once
    await start_time(campaigns, groups)
    await per_fire(300)
    await same_minute(due)
    figures.end("campaigns")


if __name__ == "__main__":
    asyncio.run(main())
