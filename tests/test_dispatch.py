"""Dispatch: duplicates dropped (also across a restart), commands routed, errors contained."""

from __future__ import annotations

from typing import Any

from bot.commands import CommandSpec
from bot.context import Context
from bot.events import CommandInvoked, MessagePosted
from bot.feature import Feature
from handlers import default_features
from tests.helpers import Harness


class Counter(Feature):
    """Counts messages and answers /ping; /boom raises, to prove no traceback reaches the chat."""

    name = "counter"
    priority = 50

    def __init__(self) -> None:
        self.seen: list[str] = []

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec("ping", self.ping, triggers=("乒",), feature=self.name),
            CommandSpec("boom", self.boom, feature=self.name),
        ]

    async def on_message(self, ctx: Context, event: MessagePosted) -> bool:
        self.seen.append(event.text)
        return event.text == "stop-here"

    async def ping(self, ctx: Context, _args: Any) -> None:
        await ctx.reply("pong")

    async def boom(self, ctx: Context, _args: Any) -> None:
        raise RuntimeError("secret internals")


async def test_redelivered_event_runs_handlers_once(db) -> None:  # type: ignore[no-untyped-def]
    counter = Counter()
    h = await Harness(db, [counter, *default_features()]).start()
    event = h.message("alice", "/ping")
    await h.app.handle(event)
    await h.app.handle(event)
    assert h.adapter.pop_texts() == ["pong"]
    assert counter.seen == ["/ping"]
    await h.stop()


async def test_redelivery_after_restart_is_dropped(db) -> None:  # type: ignore[no-untyped-def]
    counter = Counter()
    h = await Harness(db, [counter, *default_features()]).start()
    event = h.message("alice", "/ping")
    await h.app.handle(event)
    quiet = h.message("bob", "just chatting")  # no answer: its key is only in the batch until stop flushes it
    await h.app.handle(quiet)
    await h.restart()
    await h.app.handle(event)
    await h.app.handle(quiet)
    assert h.adapter.pop_texts() == ["pong"]
    assert counter.seen == ["/ping", "just chatting"]
    await h.stop()


async def test_answered_event_key_is_durable_before_the_answer(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.app.handle(h.message("alice", "/help", key="t:g1:777"))
    # No stop/flush: a crash right after the answer must still know the event.
    assert await db.fetchval("SELECT COUNT(*) FROM processed_events WHERE event_key = ?", "t:g1:777") == 1
    await h.stop()


async def test_unknown_command_points_to_help_in_group_language(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    assert await h.say("alice", "/frobnicate") == ["未知命令 /frobnicate，发送 /help 查看可用命令。"]
    await h.say("carol", "/lang en", admin=True)
    assert await h.say("alice", "/frobnicate now") == [
        "Unknown command /frobnicate. Send /help to see the commands you can use."
    ]
    await h.stop()


async def test_handler_crash_gives_a_polite_answer_and_no_traceback(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db, [Counter(), *default_features()]).start()
    texts = await h.say("alice", "/boom")
    assert texts == ["抱歉，处理时出了点问题，已记录下来，请稍后再试。"]
    assert "secret" not in texts[0] and "Traceback" not in texts[0]
    assert await h.say("alice", "/ping") == ["pong"]  # the bot carries on
    await h.stop()


async def test_plain_text_trigger_and_bot_suffix(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db, [Counter(), *default_features()]).start()
    assert await h.say("alice", "乒") == ["pong"]
    assert await h.say("alice", "  /PING  ") == ["pong"]
    assert await h.say("alice", "/ping@OtherBot") == []  # addressed to another bot (adapters strip our name)
    assert await h.say("alice", "乒乓球") == []  # a trigger is the whole message, not a substring
    await h.stop()


async def test_hook_can_stop_command_handling(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    counter = Counter()
    h = await Harness(sqlite_db, [counter, *default_features()]).start()
    assert await h.say("alice", "stop-here") == []
    assert counter.seen == ["stop-here"]
    await h.stop()


async def test_huge_message_is_bounded_not_a_crash(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    texts = await h.say("carol", "/set timezone " + "x" * 100_000, admin=True)
    assert len(texts) == 1 and "timezone" in texts[0]
    assert len(texts[0]) < 1_000
    assert await h.say("alice", "y" * 100_000) == []
    await h.stop()


async def test_native_command_event_is_routed_like_text(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    event = CommandInvoked(
        event_key="slash:1",
        chat=h.chat(),
        user=h.message("a", "").user,
        is_admin=True,
        at=h.clock.now(),
        name="lang",
        args="en",
    )
    await h.app.handle(event)
    assert h.adapter.pop_texts() == ["This group's language is now English."]
    await h.stop()


async def test_messages_from_bots_run_no_commands(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    h = await Harness(sqlite_db).start()
    event = h.message("otherbot", "/help")
    await h.app.handle(replace(event, user=replace(event.user, is_bot=True)))
    assert h.adapter.pop_texts() == []
    await h.stop()


async def test_groups_are_isolated(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    await h.say("carol", "/lang en", admin=True, chat_id="g1")
    assert (await h.say("alice", "/help", chat_id="g1"))[0].startswith("Commands you can use")
    assert (await h.say("alice", "/help", chat_id="g2"))[0].startswith("可用命令")
    await h.stop()


class Deadlocked(Exception):
    """Stands for PostgreSQL's DeadlockDetectedError: the unit was chosen as the victim and rolled back."""


async def test_a_unit_rolled_back_by_a_deadlock_runs_again_and_counts_once(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    monkeypatch.setattr(h.app.db, "is_transient", lambda exc: isinstance(exc, Deadlocked))
    failures = {"join": 1, "commit": 1}
    record_join, add = h.app.members.record_join, h.app.outbox_repo.add

    async def flaky_join(*args, **kwargs):  # type: ignore[no-untyped-def]
        if failures["join"]:
            failures["join"] -= 1
            raise Deadlocked
        return await record_join(*args, **kwargs)

    async def flaky_add(*args, **kwargs):  # type: ignore[no-untyped-def]
        if failures["commit"]:
            failures["commit"] -= 1
            raise Deadlocked
        return await add(*args, **kwargs)

    monkeypatch.setattr(h.app.members, "record_join", flaky_join)
    await h.join("dave")
    assert await db.fetchval("SELECT COUNT(*) FROM membership_events WHERE user_id = 'dave'") == 1
    assert await db.fetchval("SELECT COUNT(*) FROM members WHERE user_id = 'dave'") == 1
    monkeypatch.setattr(h.app.outbox_repo, "add", flaky_add)
    assert len(await h.say("alice", "签到")) == 1
    await h.app.writer.flush()
    assert failures == {"join": 0, "commit": 0}
    assert await db.fetchval("SELECT COUNT(*) FROM checkins WHERE user_id = 'alice'") == 1
    assert await db.fetchval("SELECT SUM(messages) FROM activity_daily WHERE user_id = 'alice'") == 1
    await h.stop()
