"""Work a member (or an admin's rules) can trigger is bounded (issue 29, items 6 and 10): each case with
its worst input, against a generous time bound for a loaded CI machine."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from storage.campaigns import CampaignRepo
from tests.helpers import Harness


async def _admin(h: Harness, text: str, chat_id: str = "g1") -> list[str]:
    h.adapter.admins.setdefault(chat_id, set()).add("carol")
    return await h.say("carol", text, admin=True, chat_id=chat_id)


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_far_dates_are_refused_in_the_members_language(db, language: str) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _admin(h, f"/set language {language}")
    await _admin(h, "/set timezone America/Los_Angeles")
    far = "太远了" if language == "zh-CN" else "too far ahead"
    for command in (
        "/campaign event 周年庆 9999-12-31 23:59",
        "/campaign add 9999-12-31 23:59 hello",
        "/campaign add 9999年12月31日 23:59 hello",
    ):
        [answer] = (await _admin(h, command))[:1]
        assert far in answer, (command, answer)
    [listed] = await _admin(h, "/campaign list")
    assert "#1" not in listed
    await h.stop()


async def test_a_never_firing_cron_is_refused_quickly(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    started = time.perf_counter()
    answer = (await _admin(h, '/campaign add cron "0 0 31 4,6,9,11 *" hi'))[0]
    assert "永远不会到来" in answer
    assert time.perf_counter() - started < 0.15  # the check alone took 0.34 s
    # with a weekday too it is every Sunday of those months (cron's OR), so it is accepted
    assert (await _admin(h, '/campaign add cron "0 0 31 4,6,9,11 0" hi'))[0].startswith("活动 #1 已安排")
    await h.stop()


async def test_calendar_of_500_busy_campaigns_is_bounded(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.say("alice", "hi")
    group = await h.app.groups.get("test", "g1")
    assert group is not None
    repo = CampaignRepo(db)
    start = h.clock.now().isoformat()
    for i in range(500):
        args = {"minutes": 10, "start": start, "timezone": "Asia/Shanghai"}
        await repo.add(group.id, f"post {i}", "interval", args, "every 10m", {}, "carol", 0)
    # and a stored cron that never fires (added before the check existed): it must not walk to 9999
    never = {"minute": "0", "hour": "0", "day": "31", "month": "4,6,9,11", "day_of_week": "*",
             "timezone": "Asia/Shanghai"}  # fmt: skip
    for _ in range(20):
        await repo.add(group.id, "never", "cron", never, "cron", {}, "carol", 0)
    started = time.perf_counter()
    [calendar] = await h.say("alice", "/calendar 31")
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, elapsed  # 50 campaigns took 1.1 s; 500 would take 11 s
    lines = calendar.splitlines()
    assert lines[0] == "接下来 31 天的安排："
    assert "post 0" in calendar and re.fullmatch(r"……还有 1\d{3}\+ 项。", lines[-1]), lines[-1]
    await h.stop()


async def test_calendar_counts_exactly_when_it_can(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _admin(h, "/campaign add every 1h hourly")
    [calendar] = await h.say("alice", "/calendar 7")
    # 7 days of hourly posts and two daily reminders: 80 shown, the rest counted exactly
    assert calendar.splitlines()[-1].startswith("……还有 ")
    assert "+" not in calendar.splitlines()[-1]
    await h.stop()


def test_calendar_entries_merges_in_time_order() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.when import Schedule
    from handlers.campaigns import calendar_entries

    now = datetime(2026, 11, 22, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    daily = Schedule("cron", {"hour": 20, "minute": 0, "timezone": "Asia/Shanghai"})
    hourly = Schedule("interval", {"hours": 5, "start": now.isoformat(), "timezone": "Asia/Shanghai"})
    shown, more, exact = calendar_entries([(daily, "d"), (hourly, "h")], now, now + timedelta(days=2))
    assert [t for t, _ in shown] == sorted(t for t, _ in shown)
    assert [w for _, w in shown].count("d") == 2 and [w for _, w in shown].count("h") == 10
    assert (more, exact) == (0, True)
