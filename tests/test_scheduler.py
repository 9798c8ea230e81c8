"""Scheduling: jobs fire in time order on @advance, are rebuilt from the database, and run live too."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.app import App
from bot.clock import SystemClock
from bot.context import Context
from bot.feature import Feature, JobFunc
from handlers import default_features
from handlers.maintenance import PRUNE_JOB_ID
from storage.jobs import JobRecord
from tests.helpers import T0, Harness


class Announcer(Feature):
    name = "announcer"

    def __init__(self) -> None:
        self.fired: list[tuple[str, datetime]] = []

    def jobs(self) -> dict[str, JobFunc]:
        return {"say": self.say}

    async def say(self, app: App, ctx: Context | None, job: JobRecord) -> None:
        self.fired.append((job.id, app.clock.now()))
        if ctx is not None:
            await ctx.send(ctx.t("lang.current", language=job.payload.get("text", "")))


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


async def _group_id(h: Harness) -> int:
    return (await h.app.groups.ensure("test", "g1", "G", 0)).id


async def test_advance_fires_due_jobs_in_time_order(db) -> None:  # type: ignore[no-untyped-def]
    ann = Announcer()
    h = await Harness(db, [ann, *default_features()]).start()
    gid = await _group_id(h)
    sched = h.app.scheduler
    await sched.add(
        JobRecord("once", "announcer.say", "date", {"run_at": at(5).isoformat()}, gid, {"text": "x"})
    )
    await sched.add(
        JobRecord("every2h", "announcer.say", "interval", {"hours": 2, "start": at(1).isoformat()}, gid)
    )
    await sched.add(
        JobRecord(
            "daily", "announcer.say", "cron", {"hour": 20, "minute": 0, "timezone": "Asia/Shanghai"}, gid
        )
    )
    await sched.advance_to(at(12))
    assert [(jid, when - T0) for jid, when in ann.fired] == [
        ("every2h", timedelta(hours=1)),
        ("every2h", timedelta(hours=3)),
        ("every2h", timedelta(hours=5)),
        ("once", timedelta(hours=5)),  # a tie fires in job-id order, so replays are deterministic
        ("every2h", timedelta(hours=7)),
        ("every2h", timedelta(hours=9)),
        ("daily", timedelta(hours=11)),
        ("every2h", timedelta(hours=11)),
    ]
    assert h.clock.now() == at(12)
    assert (
        "once" not in sched.job_ids() and await h.app.jobs.get("once") is None
    )  # a one-off is gone after it ran
    assert len(h.adapter.texts()) == 8  # every run sent its message through the outbox
    await h.stop()


async def test_a_jump_fires_each_missed_recurring_job_once_like_a_restart(db) -> None:  # type: ignore[no-untyped-def]
    ann = Announcer()
    h = await Harness(db, [ann, *default_features()]).start()
    gid = await _group_id(h)
    sched = h.app.scheduler
    await sched.add(
        JobRecord("every2h", "announcer.say", "interval", {"hours": 2, "start": at(1).isoformat()}, gid)
    )
    await sched.add(
        JobRecord("once", "announcer.say", "date", {"run_at": at(50).isoformat()}, gid, {"text": "x"})
    )
    fired = await sched.advance_to(at(24 * 300), jump=True)  # ten months on: no 3,600 replays
    assert [(jid, when - T0) for jid, when in ann.fired] == [
        ("once", timedelta(hours=50)),  # a one-off still fires at its time
        ("every2h", timedelta(hours=24 * 300)),  # the recurring one once, now
    ]
    assert fired < 10 and h.clock.now() == at(24 * 300)  # the system jobs too, once each
    await sched.advance_to(at(24 * 300 + 2.5))  # and it goes on from there
    assert len([j for j, _ in ann.fired if j == "every2h"]) == 2
    await h.stop()


async def test_jobs_are_rebuilt_from_the_database_after_a_restart(db) -> None:  # type: ignore[no-untyped-def]
    ann = Announcer()
    h = await Harness(db, [ann, *default_features()]).start()
    gid = await _group_id(h)
    await h.app.scheduler.add(
        JobRecord("later", "announcer.say", "date", {"run_at": at(30).isoformat()}, gid)
    )
    await h.app.scheduler.add(
        JobRecord("tick", "announcer.say", "interval", {"hours": 24, "start": at(2).isoformat()}, gid)
    )
    await h.restart()
    assert {"later", "tick", PRUNE_JOB_ID} <= set(h.app.scheduler.job_ids())
    await h.app.scheduler.advance_to(at(31))
    assert [jid for jid, _ in ann.fired] == ["tick", "tick", "later"]
    await h.stop()


async def test_one_off_missed_while_down_fires_once_late_even_beyond_grace(db) -> None:  # type: ignore[no-untyped-def]
    """A one-off skipped for lateness left what it finishes (greetings, verifications) stuck forever."""
    ann = Announcer()
    h = await Harness(db, [ann, *default_features()]).start()
    gid = await _group_id(h)
    await h.app.scheduler.add(JobRecord("soon", "announcer.say", "date", {"run_at": at(1).isoformat()}, gid))
    await h.app.scheduler.add(
        JobRecord("sooner", "announcer.say", "date", {"run_at": at(0.5).isoformat()}, gid)
    )
    await h.app.stop()
    h.clock.set(at(1.75))  # down from 09:00 to 10:45: "sooner" is 75 min late, "soon" 45 min
    await h.restart()
    assert [jid for jid, _ in ann.fired] == ["sooner", "soon"]
    await h.advance(timedelta(hours=3))
    assert len(ann.fired) == 2  # once each
    await h.stop()


async def test_processed_events_are_pruned_daily(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    await h.app.handle(h.message("alice", "hello"))
    await h.app.writer.flush()
    assert await sqlite_db.fetchval("SELECT COUNT(*) FROM processed_events") == 1
    events = "SELECT COUNT(*) FROM processed_events WHERE event_key NOT LIKE 'job:%'"  # not the fires'
    await h.app.scheduler.advance_to(T0 + timedelta(days=6))
    assert await sqlite_db.fetchval(events) == 1
    await h.app.scheduler.advance_to(T0 + timedelta(days=8))
    assert await sqlite_db.fetchval(events) == 0
    await h.stop()


async def test_live_mode_fires_through_apscheduler(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    ann = Announcer()
    h = Harness(sqlite_db, [ann, *default_features()])
    h.app = App(sqlite_db, SystemClock(), h.outbox, [ann, *default_features()], manual_scheduler=False)
    await h.app.start()
    gid = await _group_id(h)
    run_at = datetime.now(UTC) + timedelta(milliseconds=300)
    await h.app.scheduler.add(JobRecord("live", "announcer.say", "date", {"run_at": run_at.isoformat()}, gid))
    for _ in range(50):
        if ann.fired:
            break
        await asyncio.sleep(0.1)
    assert [jid for jid, _ in ann.fired] == ["live"]
    await h.stop()


async def test_a_job_added_in_a_unit_is_armed_only_once_the_unit_commits(db) -> None:  # type: ignore[no-untyped-def]
    """Armed at once, a job could fire before its row (and the rows it reads) were visible to its own
    connection on PostgreSQL — a greeting job found its new group "gone" — and a rollback left it
    armed with no row. It is armed after the commit; a rolled-back unit arms nothing."""
    from bot.clock import to_ms
    from bot.unit import unit

    ann = Announcer()
    h = await Harness(db, [ann, *default_features()]).start()
    gid = await _group_id(h)
    sched = h.app.scheduler
    job = JobRecord("soon", "announcer.say", "date", {"run_at": at(1).isoformat()}, gid)
    try:
        async with unit(h.app, "test:rolled-back", to_ms(T0)):
            assert await sched.add(job) == at(1)  # the fire time is known at once
            assert sched.armed("soon") is None  # but nothing is armed before the commit
            raise RuntimeError("the unit fails after adding the job")
    except RuntimeError:
        pass
    assert sched.armed("soon") is None and await h.app.jobs.get("soon") is None
    async with unit(h.app, "test:committed", to_ms(T0)):
        await sched.add(job)
        assert sched.armed("soon") is None
    assert sched.armed("soon") is not None and await h.app.jobs.get("soon") is not None
    async with unit(h.app, "test:removed", to_ms(T0)):
        await sched.remove("soon")
        assert sched.armed("soon") is not None  # still armed until the removal commits
    assert sched.armed("soon") is None
    await sched.advance_to(at(2))
    assert ann.fired == []
    await h.stop()
