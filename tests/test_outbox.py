"""The outbox: 429s waited out and retried, transient errors retried, permanent ones reported, limits kept."""

from __future__ import annotations

import asyncio

from bot import actions as A
from bot.events import ChatRef
from bot.outbox import Outbox, RateLimits
from tests.helpers import PLATFORM, RecordingAdapter


def send(text: str, chat: str = "g1") -> A.Send:
    return A.Send(chat=ChatRef(PLATFORM, chat), text=text)


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


async def test_429_is_waited_out_and_the_message_still_delivered() -> None:
    adapter, sleeps = RecordingAdapter(), Sleeps()
    outbox = Outbox(sleep=sleeps)
    outbox.register(adapter)
    adapter.failures = [A.RetryAfter(3), A.RetryAfter(1.5)]
    result = await outbox.deliver(send("hello"))
    assert result.ok and adapter.texts() == ["hello"]
    assert sleeps.calls == [3, 1.5]


async def test_429_forever_is_reported_not_silently_dropped(caplog) -> None:  # type: ignore[no-untyped-def]
    adapter = RecordingAdapter()
    outbox = Outbox(sleep=Sleeps(), max_retries=2)
    outbox.register(adapter)
    adapter.failures = [A.RetryAfter(1)] * 3
    result = await outbox.deliver(send("hello"))
    assert not result.ok and result.failure is A.Failure.RATE_LIMITED
    assert "giving up" in caplog.text


async def test_transient_errors_back_off_then_succeed() -> None:
    adapter, sleeps = RecordingAdapter(), Sleeps()
    outbox = Outbox(sleep=sleeps, backoff=0.5)
    outbox.register(adapter)
    adapter.failures = [A.TransientError("502"), A.TransientError("timeout")]
    assert (await outbox.deliver(send("x"))).ok
    assert sleeps.calls == [0.5, 1.0]


async def test_permanent_error_is_a_fact_and_later_messages_flow() -> None:
    adapter = RecordingAdapter()
    outbox = Outbox(sleep=Sleeps())
    outbox.register(adapter)
    adapter.failures = [A.PermanentError(A.Failure.FORBIDDEN, "bot was kicked")]
    first = await outbox.deliver(send("lost"))
    second = await outbox.deliver(send("next"))
    assert (first.ok, first.failure, first.detail) == (False, A.Failure.FORBIDDEN, "bot was kicked")
    assert second.ok and adapter.texts() == ["next"]


async def test_unknown_platform_is_reported() -> None:
    result = await Outbox().deliver(A.Send(chat=ChatRef("nowhere", "1"), text="x"))
    assert result.failure is A.Failure.NO_ADAPTER


async def test_per_chat_limit_holds_one_chat_not_the_others() -> None:
    adapter = RecordingAdapter(RateLimits(per_chat_per_minute=3))
    outbox = Outbox()
    outbox.register(adapter)
    for i in range(3):
        assert (await outbox.deliver(send(f"g1-{i}"))).ok
    held = asyncio.create_task(outbox.deliver(send("g1-3")))
    other = await asyncio.wait_for(outbox.deliver(send("g2-0", chat="g2")), timeout=1)
    await asyncio.sleep(0.2)
    assert other.ok and not held.done()  # the fourth message to g1 in a minute waits
    held.cancel()
    assert adapter.texts() == ["g1-0", "g1-1", "g1-2", "g2-0"]


async def test_a_429_pauses_the_whole_platform() -> None:
    adapter = RecordingAdapter()
    gate = asyncio.Event()

    async def slow_sleep(_seconds: float) -> None:
        await gate.wait()

    outbox = Outbox(sleep=slow_sleep)
    outbox.register(adapter)
    adapter.failures = [A.RetryAfter(5)]
    first = asyncio.create_task(outbox.deliver(send("first")))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(outbox.deliver(send("second", chat="g2")))
    await asyncio.sleep(0.05)
    assert adapter.texts() == [] and not second.done()  # nothing goes out while paused
    gate.set()
    await asyncio.gather(first, second)
    assert sorted(adapter.texts()) == ["first", "second"]


async def test_an_adapter_bug_is_a_failure_not_a_crash(caplog) -> None:  # type: ignore[no-untyped-def]
    adapter = RecordingAdapter()
    outbox = Outbox(sleep=Sleeps())
    outbox.register(adapter)
    adapter.failures = [TypeError("parsing went wrong")]
    result = await outbox.deliver(send("x"))
    assert result.failure is A.Failure.INTERNAL and "parsing went wrong" in caplog.text
    assert (await outbox.deliver(send("y"))).ok


class Timed(RecordingAdapter):
    """Notes when each call reached the platform (the loop's clock, as aiolimiter's)."""

    def __init__(self, limits: RateLimits) -> None:
        super().__init__(limits)
        self.at: list[float] = []

    async def perform(self, action: A.Action) -> A.ActionResult:
        self.at.append(asyncio.get_running_loop().time())
        return await super().perform(action)


async def test_the_overall_limit_holds_in_every_second_not_only_on_average() -> None:
    """A bucket of 100 let 100 through at once and 100 more within the same second; evenly spaced
    sends never put more than the limit into any one-second window."""
    adapter = Timed(RateLimits(overall_per_second=100))
    outbox = Outbox()
    outbox.register(adapter)
    await asyncio.gather(*(outbox.deliver(send(str(i), f"c{i}")) for i in range(150)))
    assert len(adapter.at) == 150
    for i, start in enumerate(adapter.at):
        within = sum(1 for t in adapter.at[i:] if t - start < 1.0)
        assert within <= 101, (i, within)  # the limit, and the one at the window's very edge


async def test_background_sends_yield_to_answers() -> None:
    """A job's DMs take a slot only while no answer waits: an answer asked for mid-way goes next."""
    adapter = Timed(RateLimits(overall_per_second=200))
    outbox = Outbox()
    outbox.register(adapter)
    dms = [A.DirectMessage(chat=ChatRef(PLATFORM, "g1"), user_id=f"u{i}", text=f"dm{i}") for i in range(60)]

    job = asyncio.gather(*(outbox.deliver(dm, background=True) for dm in dms))  # all waiting at once
    while len(adapter.actions) < 10:  # noqa: ASYNC110 - the count grows in other tasks
        await asyncio.sleep(0.005)
    before = len(adapter.actions)
    await outbox.deliver(send("answer", "g2"))
    order = [getattr(a, "text", "") for a in adapter.actions]
    assert order.index("answer") <= before + 2  # not behind the fifty DMs still waiting
    await job
    assert len(adapter.actions) == 61


async def test_button_answers_take_no_slot_of_the_groups_budget() -> None:
    """Issue 29: every press cost an answer against the group's 20 a minute. Answers are not group
    messages (answerCallbackQuery, an interaction response): after 20 sends fill the minute, answers
    still go at once while the next group message waits."""
    adapter = RecordingAdapter(RateLimits(per_chat_per_minute=20))
    outbox = Outbox()
    outbox.register(adapter)
    chat = ChatRef(PLATFORM, "g1")
    for i in range(20):
        await outbox.deliver(send(f"m{i}"))
    answers = [A.AnswerButton(chat=chat, callback_id=f"cb{i}", text="ok") for i in range(30)]
    results = await asyncio.wait_for(asyncio.gather(*(outbox.deliver(a) for a in answers)), 1)
    assert all(r.ok for r in results)
    late = asyncio.ensure_future(outbox.deliver(send("m20")))
    await asyncio.sleep(0.2)
    assert not late.done()  # the group's own budget still holds
    late.cancel()


async def test_edits_of_one_message_coalesce_to_the_latest() -> None:
    """15 vote presses on one card queued 15 edits against the group's budget (30 s for the group);
    an edit waiting for its slot now takes the newer text, and the later callers share its result."""
    adapter = RecordingAdapter(RateLimits(per_chat_per_minute=1200))  # a slot every 50 ms once spent
    outbox = Outbox()
    outbox.register(adapter)
    chat = ChatRef(PLATFORM, "g1")
    for i in range(1200):  # the minute's budget is spent
        await outbox.deliver(send(f"m{i}"))
    adapter.actions.clear()
    edits = [A.EditMessage(chat=chat, message_id="7", text=f"votes {n}") for n in range(1, 16)]
    other = A.EditMessage(chat=chat, message_id="8", text="another card")
    tasks = [asyncio.ensure_future(outbox.deliver(e)) for e in [*edits, other]]
    results = await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert all(r.ok for r in results) and outbox.coalesced == 14
    sent = [(a.message_id, a.text) for a in adapter.actions if isinstance(a, A.EditMessage)]
    assert sent == [("7", "votes 15"), ("8", "another card")]


async def test_an_edit_in_flight_is_not_replaced_but_followed() -> None:
    """An edit already at the platform cannot take a newer text: the newer one goes after it."""
    adapter = RecordingAdapter()
    outbox = Outbox()
    outbox.register(adapter)
    chat = ChatRef(PLATFORM, "g1")
    gate = asyncio.Event()
    perform = adapter.perform

    async def slow(action: A.Action) -> A.ActionResult:
        if isinstance(action, A.EditMessage) and action.text == "v1":
            await gate.wait()
        return await perform(action)

    adapter.perform = slow  # type: ignore[method-assign]
    first = asyncio.ensure_future(outbox.deliver(A.EditMessage(chat=chat, message_id="7", text="v1")))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(outbox.deliver(A.EditMessage(chat=chat, message_id="7", text="v2")))
    third = asyncio.ensure_future(outbox.deliver(A.EditMessage(chat=chat, message_id="7", text="v3")))
    await asyncio.sleep(0.01)
    gate.set()
    await asyncio.gather(first, second, third)
    assert [a.text for a in adapter.actions if isinstance(a, A.EditMessage)] == ["v1", "v3"]
