"""Slow work never holds the write lock other groups need (issue 29, items 1 and 2).

A second group's command is timed while one group's slow work runs: the weekly digest drawing its charts
and uploading them (three groups, each upload slow), `/stats 90d` drawing its charts. On SQLite the
write lock is one for the whole bot, so a unit that held it across a chart or an upload made every
other group wait the whole time (7.4 s with three groups before); on PostgreSQL the same units held row
locks and a connection. Strict mode (tests/conftest.py) refuses such an await outright; these tests
measure what a member would feel. Both databases.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime

import pytest

from bot import actions as A
from bot import charts, unit
from bot.outbox import Outbox
from tests.helpers import SHANGHAI, Harness, RecordingAdapter

UPLOAD_S = 0.25  # each chart upload of the digest
CHART_S = 0.3  # each chart drawn (in a worker thread: the loop stays free, the lock must too)
WAITED_AT_MOST = 0.2  # what the other group's command may take: nothing of the slow work


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


class SlowUploads(RecordingAdapter):
    """Uploads take `delay` seconds; `busy` is set once `after` uploads have started."""

    def __init__(self, delay: float, after: int) -> None:
        super().__init__()
        self.delay, self.after, self.started = delay, after, 0
        self.busy = asyncio.Event()

    async def perform(self, action: A.Action) -> A.ActionResult:
        if isinstance(action, A.SendFile):
            self.started += 1
            if self.started >= self.after:
                self.busy.set()
            await asyncio.sleep(self.delay)
        return await super().perform(action)


def _slow_charts(monkeypatch: pytest.MonkeyPatch, seconds: float) -> threading.Event:
    """Every chart takes `seconds` to draw (in its worker thread); the event says one is being drawn."""
    drawing = threading.Event()
    for name in ("render_heatmap", "render_daily"):
        real = getattr(charts, name)

        def slow(*args: object, _real=real) -> bytes:  # type: ignore[no-untyped-def]
            drawing.set()
            time.sleep(seconds)
            return _real(*args)

        monkeypatch.setattr(charts, name, slow)
    return drawing


async def _harness(db, adapter: RecordingAdapter) -> Harness:  # type: ignore[no-untyped-def]
    h = Harness(db)
    h.adapter = adapter
    h.outbox = Outbox(sleep=lambda _s: asyncio.sleep(0))
    h.outbox.register(adapter)
    h.app.outbox = h.outbox
    return await h.start()


async def _timed(h: Harness, user: str, text: str, chat_id: str) -> float:
    began = time.perf_counter()
    await h.app.handle(h.message(user, text, chat_id=chat_id))
    return time.perf_counter() - began


async def test_a_slow_digest_never_makes_another_group_wait(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    adapter = SlowUploads(UPLOAD_S, after=3)  # the third upload: the second group's report
    h = await _harness(db, adapter)
    h.clock.set(at(22, 10))
    for g in ("g1", "g2", "g3"):
        adapter.admins.setdefault(g, set()).add("carol")
        await h.app.handle(h.message("carol", "/set digest.target group", chat_id=g, admin=True))
        for user in ("alice", "bob"):
            await h.app.handle(h.message(user, f"{g} 的周日", chat_id=g))
    await h.app.handle(h.message("dave", "大家好", chat_id="g9"))
    await h.app.scheduler.advance_to(at(23, 8, 59))
    h.take()
    _slow_charts(monkeypatch, CHART_S / 3)
    tick = asyncio.create_task(h.app.scheduler.advance_to(at(23, 9, 1)))
    await asyncio.wait_for(adapter.busy.wait(), 10)
    waited = await _timed(h, "dave", "签到", "g9")
    assert not tick.done()  # the digest was still under way while dave checked in
    await tick
    out = h.take()
    reports = [a for a in out if isinstance(a, A.Send) and "健康度周报" in a.text]
    assert sorted(a.chat.chat_id for a in reports) == ["g1", "g2", "g3"]
    assert sum(isinstance(a, A.SendFile) for a in out) == 6
    assert any(isinstance(a, A.Reply) and "签到成功" in a.text for a in out)
    assert waited < WAITED_AT_MOST, f"dave's check-in waited {waited:.2f} s behind the digest"
    await h.stop()


async def test_stats_draws_its_charts_before_it_writes(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    h = await _harness(db, RecordingAdapter())
    h.adapter.admins.setdefault("g1", set()).add("carol")
    for user in ("alice", "bob"):
        await h.say(user, "早上好")
        await h.say("dave", "签到", chat_id="g2")
    drawing = _slow_charts(monkeypatch, CHART_S)
    stats = asyncio.create_task(h.app.handle(h.message("carol", "/stats 90d", admin=True)))
    while not drawing.is_set():  # noqa: ASYNC110 - set from the chart's worker thread
        await asyncio.sleep(0.005)
    waited = await _timed(h, "dave", "/me", "g2")
    assert not stats.done()
    await stats
    out = h.take()
    assert any(isinstance(a, A.Reply) and "近 90 天" in a.text for a in out)
    assert [a.filename for a in out if isinstance(a, A.SendFile)] == ["peak-hours.png", "daily.png"]
    assert waited < WAITED_AT_MOST, f"/me waited {waited:.2f} s behind /stats"
    await h.stop()


async def test_strict_mode_refuses_a_thread_or_a_send_inside_an_open_unit(db) -> None:  # type: ignore[no-untyped-def]
    """The guard itself: what the suite runs under (tests/conftest.py turns it on)."""
    h = await Harness(db).start()
    async with unit.unit(h.app, "probe:1", 0) as uow:
        await unit.off_loop(h.app, sum, [1, 2])  # not open yet: fine
        await uow.begin()
        with pytest.raises(unit.LockHeld):
            await unit.off_loop(h.app, sum, [1, 2])
        with pytest.raises(unit.LockHeld):
            await asyncio.to_thread(sum, [1, 2])  # a feature's own to_thread is watched too
        with pytest.raises(unit.LockHeld):
            async with unit.unit(h.app, "probe:inner", 0):  # it would be a savepoint of this one
                pass
    async with h.app.db.transaction():
        with pytest.raises(unit.LockHeld):
            await unit.act(h.app, A.Send(chat=h.chat(), text="x"))
    await h.stop()


async def test_act_now_commits_the_unit_so_far_before_it_asks_the_platform(db) -> None:  # type: ignore[no-untyped-def]
    """`ctx.act_now` inside an open unit: what the unit wrote commits first (the case before the mute),
    the lock is free while the platform answers, and the event's key commits with its last part."""
    h = await Harness(db).start()
    held: list[bool] = []
    real = h.adapter.perform

    async def perform(action: A.Action) -> A.ActionResult:
        held.append(unit.holding(h.app))
        return await real(action)

    h.adapter.perform = perform  # type: ignore[method-assign]
    async with unit.unit(h.app, "probe:2", 0) as uow:
        await h.app.dms.opened(h.chat().platform, "zed", 0)  # a write: the unit opens
        assert uow.is_open
        await unit.act(h.app, A.Send(chat=h.chat(), text="queued before"))
        result = await unit.act_now(h.app, A.Mute(chat=h.chat(), user_id="alice", until=None))
        assert result.ok and not uow.is_open
        assert await h.app.processed.seen("probe:2") is False  # its key waits for the last part
        h.app.processed.forget("probe:2")
        await unit.act(h.app, A.Send(chat=h.chat(), text="queued after"))
    assert held == [False, False, False]
    texts = [getattr(a, "text", type(a).__name__) for a in h.take()]
    assert texts == ["queued before", "Mute", "queued after"]
    assert await h.db.fetchval("SELECT COUNT(*) FROM processed_events WHERE event_key = 'probe:2'") == 1
    await h.stop()
