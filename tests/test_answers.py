"""Every native command and every press is answered exactly once, by the core, whatever its handler did."""

from __future__ import annotations

from typing import Any

from bot import actions as A
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import ButtonPressed, CommandInvoked
from bot.feature import Feature
from handlers import default_features
from storage.db import Database
from tests.helpers import Harness


class Quiet(Feature):
    """Commands and a button whose handlers answer in every way a real handler may, or not at all."""

    name = "quiet"
    button_prefix = "quiet"

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec("justdelete", self.just_delete, feature=self.name),
            CommandSpec("announcer", self.announcer, feature=self.name),
            CommandSpec("twice", self.twice, feature=self.name),
        ]

    async def just_delete(self, ctx: Context, _args: Any) -> None:
        await ctx.delete("42")  # all its work is an action: nothing to say

    async def announcer(self, ctx: Context, _args: Any) -> None:
        await ctx.send("result for everyone", remember=None)  # a result "beside" the command

    async def twice(self, ctx: Context, _args: Any) -> None:
        await ctx.reply("first")
        await ctx.send("second")

    async def on_button(self, ctx: Context, event: ButtonPressed, payload: str) -> None:
        if payload == "edit":
            await ctx.edit(event.message_id, "edited")  # edits, never answers the press itself


def _invoked(h: Harness, name: str) -> CommandInvoked:
    base = h._event_base("carol", "g1", "i")
    return CommandInvoked(**base | {"is_admin": True}, name=name)


def _answers(actions: list[A.Action], key: str) -> list[A.Action]:
    return [a for a in actions if isinstance(a, A.Reply) and a.event_key == key]


async def test_a_command_whose_work_is_all_actions_is_answered_privately(db: Database) -> None:
    h = await Harness(db, [Quiet(), *default_features()]).start()
    event = _invoked(h, "justdelete")
    await h.app.handle(event)
    actions = h.take()
    assert any(isinstance(a, A.Delete) for a in actions)
    [answer] = _answers(actions, event.event_key)
    assert answer.ephemeral and answer.text == "✅ 已完成。"
    await h.stop()


async def test_a_result_sent_to_the_group_is_the_commands_answer(db: Database) -> None:
    h = await Harness(db, [Quiet(), *default_features()]).start()
    event = _invoked(h, "announcer")
    await h.app.handle(event)
    actions = h.take()
    [answer] = _answers(actions, event.event_key)
    assert answer.text == "result for everyone" and not answer.ephemeral
    assert not [a for a in actions if isinstance(a, A.Send)]
    event = _invoked(h, "twice")
    await h.app.handle(event)
    actions = h.take()
    assert [a.text for a in _answers(actions, event.event_key)] == ["first"]
    assert [a.text for a in actions if isinstance(a, A.Send)] == ["second"]  # once answered, sends are sends
    await h.stop()


async def test_a_press_nobody_answered_is_acknowledged_silently_once(db: Database) -> None:
    h = await Harness(db, [Quiet(), *default_features()]).start()
    await h.press("alice", "quiet:edit", message_id="7")
    actions = h.take()
    assert [type(a) for a in actions] == [A.EditMessage, A.AnswerButton]
    assert isinstance(actions[1], A.AnswerButton) and actions[1].text == ""
    await h.press("alice", "nobody:x")  # a stale button: answered with its expiry, once
    answers = [a for a in h.take() if isinstance(a, A.AnswerButton)]
    assert len(answers) == 1 and answers[0].text == "这个按钮已失效。"
    await h.stop()


async def test_a_typed_command_is_not_given_a_closing_answer(db: Database) -> None:
    """A text command is an ordinary message: nothing waits for an answer, so nothing extra is sent."""
    h = await Harness(db, [Quiet(), *default_features()]).start()
    h.adapter.admins.setdefault("g1", set()).add("carol")
    await h.app.handle(h.message("carol", "/justdelete", admin=True))
    assert [type(a) for a in h.take()] == [A.Delete]
    await h.stop()
