"""Kill the process at every point of an event, restart, redeliver: the end state is the uncrashed one.

`bot.faults` marks every point where a `kill -9` would leave a different state: before each statement,
around each commit, around each platform call. For each scenario the test first counts those points
in an uncrashed run, then, for every k, replays the scenario on a fresh database, dies at the k-th
point (a BaseException no handler can swallow), abandons that process without any clean-up (its
pending batch is lost, as in a real kill), starts a new one on the same database file (which sends
what the outbox holds) and redelivers the event, as both platforms do for an update nobody confirmed.

What must hold for every k: the database equals the uncrashed run's, the outbox is empty, and every
action the uncrashed run sent was sent (an action sent just before the kill may go out twice: at
least once, as docs/architecture.md says). These scenarios are the four halves-of-an-event the
probing found: a join, a check-in that completes an onboarding task, a verification start, a redeem.
SQLite only: PostgreSQL sequences are not transactional, so ids would differ between runs though the
guarantee is the same code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot import actions as A
from bot import charts, faults
from bot.events import Event
from bot.markup import plain
from storage.db import Database, SqliteDatabase
from storage.moderation import LogTarget, ModerationRepo
from tests.conftest import _drop_schema, _pg_database
from tests.helpers import PLATFORM, SHANGHAI, Harness, restarted

LATER = timedelta(minutes=10)  # greetings, deadlines: what the event set in motion also happens
Setup = Callable[[Harness], Awaitable[Event]]

_SKIP_TABLES = {"schema_migrations", "sqlite_sequence", "platform_syncs"}


async def _join_setup(h: Harness) -> Event:
    await h.say("carol", "/rules 友善交流", admin=True)
    return h.join_event("alice")


async def _checkin_setup(h: Harness) -> Event:
    await h.join("alice")  # a newcomer: the first check-in is an onboarding task, paid on completion
    return h.message("alice", "签到")


async def _verify_setup(h: Harness) -> Event:
    await h.say("carol", "/verify button 3", admin=True)
    return h.join_event("alice")


async def _redeem_setup(h: Harness) -> Event:
    await h.say("carol", "/shop add 贴纸 30 5", admin=True)
    await h.say("alice", "签到")
    await h.say("carol", "/points give @alice 100", admin=True)
    return h.message("alice", "/redeem 贴纸")


SCENARIOS: dict[str, Setup] = {
    "join": _join_setup,
    "checkin_with_task": _checkin_setup,
    "verification_start": _verify_setup,
    "redeem_with_notice": _redeem_setup,
}


def _signature(action: A.Action) -> tuple[str, str]:
    text = getattr(action, "text", "") or getattr(action, "user_id", "")
    return type(action).__name__, str(text)


async def _snapshot(db: SqliteDatabase) -> dict[str, list[tuple[object, ...]]]:
    tables = [
        r[0]
        for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        if r[0] not in _SKIP_TABLES
    ]
    out = {}
    for table in tables:
        rows = await db.fetchall(f"SELECT * FROM {table}")
        # The fake platform numbers messages in sending order, so an id the bot keeps (the last greeting,
        # a challenge) differs by one when an action went out twice; whether one is kept is compared.
        out[table] = sorted(
            (tuple(_id_kept(k, r[k]) for k in r.keys()) for r in rows),
            key=repr,
        )
    return out


def _id_kept(column: str, value: object) -> object:
    return value is not None if column in ("last_message_id", "message_id") else value


async def _fresh(path: Path) -> tuple[Harness, SqliteDatabase]:
    db = await SqliteDatabase.open(str(path))
    return await Harness(db).start(), db


def _abandon(h: Harness) -> None:
    """What a kill leaves: no flush of the pending batch, no stop, nothing."""
    task = h.app.writer._task
    if task is not None:
        task.cancel()


async def _run(tmp_path: Path, name: str, kill_at: int | None) -> tuple[dict, list[tuple[str, str]], int]:
    path = tmp_path / f"{name}-{kill_at}.db"
    h, db = await _fresh(path)
    event = await SCENARIOS[name](h)
    h.take()
    if kill_at is None:
        faults.count()
        await h.app.handle(event)
        points = faults.disarm()
        await h.advance(LATER)
        sent = [_signature(a) for a in h.take()]
        await h.stop()
        snap = await _snapshot(db)
        await db.close()
        return snap, sent, points
    faults.arm(kill_at)
    try:
        await h.app.handle(event)
    except faults.Killed:
        pass
    finally:
        faults.disarm()
    sent = [_signature(a) for a in h.take()]
    _abandon(h)
    await db.close()
    # the next process: same database file and clock, new memory; the platform redelivers the event
    db2 = await SqliteDatabase.open(str(path))
    h2 = Harness(db2, start=h.clock.now())
    h2.adapter = h.adapter
    h2.outbox = h.outbox
    h2.app.outbox = h.outbox
    await h2.start()
    await h2.app.handle(event)
    await h2.advance(LATER)
    sent += [_signature(a) for a in h2.take()]
    await h2.stop()
    snap = await _snapshot(db2)
    await db2.close()
    return snap, sent, 0


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_a_kill_at_any_point_leaves_all_or_nothing(tmp_path: Path, name: str) -> None:
    reference, ref_sent, points = await _run(tmp_path, name, None)
    assert points >= 5, points  # the scenario really passes through statements, a commit and sends
    assert not reference["outbox"]
    for k in range(1, points + 1):
        snap, sent, _ = await _run(tmp_path, name, k)
        assert not snap["outbox"], (name, k)
        differing = [t for t in reference if snap.get(t) != reference[t]]
        assert not differing, repr((name, k, {t: (reference[t], snap.get(t)) for t in differing}))
        counts, ref_counts = Counter(sent), Counter(ref_sent)
        assert set(counts) == set(ref_counts), (name, k, ref_sent, sent)
        extra = counts - ref_counts
        assert sum(extra.values()) <= 1, (name, k, extra)  # only the one in flight when killed


async def test_a_full_batch_flushed_by_a_closing_unit_is_committed(tmp_path: Path) -> None:
    """A plain message whose key fills the activity batch: the writer's flush commits it then (it once
    opened the closing unit's transaction instead, which nobody committed)."""
    for max_rows in range(2, 9):  # some of these sizes fill up exactly at a message's key
        path = tmp_path / f"batch{max_rows}.db"
        db = await SqliteDatabase.open(str(path))
        h = await Harness(db).start()
        h.app.writer._max_rows = max_rows
        for i in range(6):
            await h.say(f"m{i % 3}", f"大家好，我是第 {i} 位新朋友")
            assert not db.in_transaction(), (max_rows, i)
        await db.close()


# --- scheduled work: a kill at every point of a fire ---------------------------------------------------
#
# A job's fire is an event too (issue 29): its effects commit with its key, and a one-off's row goes in
# the same unit, so a kill between that commit and the scheduler's clean-up does not run it again. For
# each scenario, an uncrashed run says what goes out; then, for every kill point k of the fire, a run
# dies at k, the next process starts on the same database (it sends what the outbox holds and fires
# what is still due) and time moves on past the fire. Whatever went out over both processes must be
# exactly the reference, but for the one action in flight at the kill (at least once). Both databases:
# a "process" is an App; a kill abandons it (no flush, no stop) on a database that rolled back what
# had not committed, as the server or the file would have.

JOB_T0 = datetime(2026, 11, 22, 9, 0, tzinfo=SHANGHAI)  # a Sunday (tests.helpers.T0)


@dataclass(frozen=True)
class JobScenario:
    setup: Callable[[Harness], Awaitable[None]]  # what comes before the fire
    fire_at: datetime  # the fire happens on the way to here
    settle_at: datetime  # and the next process goes on to here
    expect: int  # how many effects the reference run sends, at least (the scenario really acts)


async def _admin(h: Harness, text: str, chat_id: str = "g1") -> None:
    h.adapter.admins.setdefault(chat_id, set()).add("carol")
    await h.say("carol", text, admin=True, chat_id=chat_id)


async def _log_here(h: Harness, chat_id: str = "g1") -> None:
    group = await h.app.groups.get(PLATFORM, chat_id)
    assert group is not None
    await ModerationRepo(h.db).set_log_target(group.id, LogTarget(f"admins-{chat_id}", None), "carol", 0)


async def _digest_setup(h: Harness) -> None:
    for g in ("g1", "g2"):
        for user in ("alice", "bob"):
            await h.say(user, f"{g} 周日好", chat_id=g)
        await _log_here(h, g)
    await h.app.scheduler.advance_to(JOB_T0 + timedelta(hours=23, minutes=59))  # Monday 08:59


async def _export_setup(h: Harness) -> None:
    await h.say("alice", "大家好")
    await h.app.dms.opened(PLATFORM, "carol", 0)
    await _admin(h, "/export members")


async def _needs_setup(h: Harness) -> None:
    await _admin(h, "/set digest.target off")  # Monday 09:00 is the half-time: the reminder alone
    await h.say("alice", "/need 希望每周五晚上有固定的答疑时间")
    await _log_here(h)
    await h.app.scheduler.advance_to(JOB_T0 + timedelta(hours=23, minutes=59))


async def _recall_setup(h: Harness) -> None:
    await _admin(h, "/recall on")
    await _admin(h, "/set recall.holdout_percent 0")
    for user in ("alice", "bob", "dave", "erin"):
        await h.say(user, f"大家好，我是{user}")
    for user in ("alice", "bob", "dave"):
        await h.app.dms.opened(PLATFORM, user, 0)
    await h.app.scheduler.advance_to(RECALL_SCAN - timedelta(minutes=1))


async def _campaign_setup(h: Harness) -> None:
    await _admin(h, "/campaign add 每天 20:00 pin 晚安")
    await _admin(h, "/campaign add 明天 20:00 明天见")
    await h.app.scheduler.advance_to(JOB_T0 + timedelta(days=1, hours=10, minutes=59))  # Monday 19:59


RECALL_SCAN = datetime(2026, 11, 29, 20, 0, tzinfo=SHANGHAI)
JOB_SCENARIOS: dict[str, JobScenario] = {
    "digest_push": JobScenario(
        _digest_setup, JOB_T0 + timedelta(days=1, minutes=1), JOB_T0 + timedelta(days=1, hours=2), 6
    ),
    "export": JobScenario(_export_setup, JOB_T0 + timedelta(minutes=1), JOB_T0 + timedelta(hours=1), 1),
    "needs_reminder": JobScenario(
        _needs_setup, JOB_T0 + timedelta(hours=24, minutes=1), JOB_T0 + timedelta(hours=24, minutes=30), 1
    ),
    "recall_scan": JobScenario(_recall_setup, RECALL_SCAN, RECALL_SCAN + timedelta(hours=1), 4),
    "campaign_fires": JobScenario(
        _campaign_setup, JOB_T0 + timedelta(days=1, hours=11, minutes=1), JOB_T0 + timedelta(days=1, hours=12), 4
    ),
}


def _effect(action: A.Action) -> tuple[str, ...]:
    """What a member or admin sees of an action (a file by its name and caption, not its path)."""
    if isinstance(action, A.SendFile):
        return "SendFile", action.chat.chat_id, action.filename, action.caption, str(action.user_id)
    if isinstance(action, A.Pin):
        return "Pin", action.chat.chat_id, str(action.pinned)
    text = getattr(action, "text", "")
    return type(action).__name__, action.chat.chat_id, str(getattr(action, "user_id", "")), plain(text)


class _Databases:
    """Fresh databases of one kind, each a schema (PostgreSQL) or a file (SQLite), dropped afterwards."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind, self._tmp, self._made = kind, tmp_path, 0
        self._open: list[tuple[Database, str | None]] = []

    async def new(self) -> Database:
        self._made += 1
        if self.kind == "sqlite":
            db: Database = await SqliteDatabase.open(str(self._tmp / f"job{self._made}.db"))
            self._open.append((db, None))
        else:
            db, schema = await _pg_database()
            self._open.append((db, schema))
        return db

    async def reopen(self, db: Database) -> Database:
        """The next process's connection: a SQLite file is opened again (a kill at a commit leaves the
        old connection inside its transaction, as only a dead process's would be); a PostgreSQL pool
        rolls back what a released connection left open, so it is kept."""
        if not isinstance(db, SqliteDatabase):
            return db
        index = next(i for i, (d, _) in enumerate(self._open) if d is db)
        await db.close()
        again: Database = await SqliteDatabase.open(str(self._tmp / f"job{index + 1}.db"))
        self._open[index] = (again, None)
        return again

    async def close(self) -> None:
        for db, schema in self._open:
            await db.close()
            if schema is not None:
                await _drop_schema(schema)


@pytest.fixture(params=["sqlite", "postgres"])
async def databases(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    made = _Databases(request.param, tmp_path)
    yield made
    await made.close()


async def _job_run(
    databases: _Databases, scenario: JobScenario, kill_at: int | None
) -> tuple[list[tuple[str, ...]], int]:
    db = await databases.new()
    h = await Harness(db).start()
    await scenario.setup(h)
    h.take()
    if kill_at is None:
        faults.count()
    else:
        faults.arm(kill_at)
    try:
        await h.app.scheduler.advance_to(scenario.fire_at)
    except faults.Killed:
        pass
    finally:
        points = faults.disarm()
    sent = [_effect(a) for a in h.take()]
    _abandon(h)
    db = await databases.reopen(db)
    h2 = await restarted(h, db)
    await h2.app.scheduler.advance_to(scenario.settle_at)
    sent += [_effect(a) for a in h2.take()]
    assert not await db.fetchval("SELECT COUNT(*) FROM outbox"), kill_at
    await h2.stop()
    return sent, points


@pytest.mark.parametrize("name", list(JOB_SCENARIOS))
async def test_a_kill_at_any_point_of_a_fire_does_nothing_twice(
    databases: _Databases, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for chart in ("render_heatmap", "render_daily"):  # the files' bytes do not matter here, their sends do
        monkeypatch.setattr(charts, chart, lambda *_a: charts.PNG_MAGIC)
    scenario = JOB_SCENARIOS[name]
    reference, points = await _job_run(databases, scenario, None)
    assert len(reference) >= scenario.expect, reference
    assert points >= 5, points
    ref_counts = Counter(reference)
    assert max(ref_counts.values()) == 1, ref_counts
    # every point on SQLite; on PostgreSQL (a schema a run, seconds each) every sixth and the last: the
    # same code, and the points SQLite alone has (its lock) are all on SQLite's list
    kills = range(1, points + 1) if databases.kind == "sqlite" else [*range(1, points, 6), points]
    for k in kills:
        sent, _ = await _job_run(databases, scenario, k)
        counts = Counter(sent)
        assert set(counts) == set(ref_counts), (name, k, "lost or new", set(ref_counts) ^ set(counts))
        extra = counts - ref_counts
        assert sum(extra.values()) <= 1, (name, k, "twice", extra)  # only the one in flight at the kill
