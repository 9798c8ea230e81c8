"""One member's presses cannot flood the admins or stall the group (issue 29, item 5)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from bot import actions as A
from bot.markup import plain
from bot.outbox import RateLimits
from bot.presses import BURST, PressLimiter
from tests.helpers import Harness

CHECKIN = "/faq add 怎么签到 | 每天发送「签到」两个字即可。"


async def _admin(h: Harness, text: str) -> list[str]:
    h.adapter.admins.setdefault("g1", set()).add("carol")
    return await h.say("carol", text, admin=True)


def _limited(h: Harness) -> None:
    """The recording adapter with Telegram's real per-group budget (20 a minute)."""
    h.adapter.limits = RateLimits(per_chat_per_minute=20)
    h.outbox.register(h.adapter)


def test_the_bucket_lets_a_burst_through_then_one_a_second() -> None:
    now = [0.0]
    limiter = PressLimiter(burst=3, per_second=1.0, clock=lambda: now[0])
    assert [limiter.allow(1, "a") for _ in range(5)] == [True, True, True, False, False]
    assert limiter.allow(1, "b") and limiter.allow(2, "a")  # per group and member
    now[0] = 1.0
    assert limiter.allow(1, "a") and not limiter.allow(1, "a")
    now[0] = 100.0
    assert sum(limiter.allow(1, "a") for _ in range(10)) == 3  # refills to the burst, no further


async def test_fifty_not_answered_presses_tell_the_admins_once(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()  # limits lifted: the once-a-day rule alone
    await _admin(h, CHECKIN)
    h.clock.advance(timedelta(minutes=11))
    await h.say("alice", "请问怎么签到啊？")
    for _ in range(50):
        await h.press("bob", "faq:no:1")
    out = h.take()
    assert len([a for a in out if isinstance(a, A.Send) and "没有解决" in plain(a.text)]) == 1
    assert len([a for a in out if isinstance(a, A.AnswerButton)]) == 50  # each press still answered
    await h.press("dave", "faq:no:1")  # another member is heard
    assert any(isinstance(a, A.Send) and "dave" in plain(a.text) for a in h.take())
    h.clock.advance(timedelta(days=1))
    await h.press("bob", "faq:no:1")  # and bob again the next day
    assert any(isinstance(a, A.Send) and "没有解决" in plain(a.text) for a in h.take())
    await h.stop()


async def test_a_press_flood_is_answered_without_work_and_the_group_keeps_its_budget(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await _admin(h, CHECKIN)
    h.clock.advance(timedelta(minutes=11))
    await h.say("alice", "请问怎么签到啊？")
    _limited(h)
    h.take()
    started = time.perf_counter()

    async def flood() -> None:
        for _ in range(50):
            await h.press("bob", "faq:list", message_id="10001")  # each would edit the message

    await asyncio.wait_for(flood(), 10)  # 50 edits at 20 a minute held the group for minutes
    out = h.take()
    edits = [a for a in out if isinstance(a, A.EditMessage)]
    too_fast = [a for a in out if isinstance(a, A.AnswerButton) and "太快" in a.text]
    assert len(edits) <= BURST + 2 and len(too_fast) >= 50 - BURST - 2
    # another member's command is answered at once: the group's budget was not spent on bob
    answer = await asyncio.wait_for(h.say("dave", "/faq"), 2)
    assert answer and time.perf_counter() - started < 5
    await h.stop()


async def test_a_double_tap_on_a_need_edits_nothing(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    for user in ("alice", "carol"):
        await h.say(user, f"大家好，我是{user}，来很久了")
    h.clock.advance(timedelta(hours=25))
    await h.say("alice", "/need 希望群里每周办一次线上分享会")
    h.take()
    await h.press("carol", "needs:v:1", message_id="10005")
    assert [a for a in h.take() if isinstance(a, A.EditMessage)]
    for _ in range(5):
        await h.press("carol", "needs:v:1", message_id="10005")  # double taps within 2 s
    out = h.take()
    assert not [a for a in out if isinstance(a, A.EditMessage)]
    assert all("共 2 票" in a.text for a in out if isinstance(a, A.AnswerButton))
    await h.stop()
