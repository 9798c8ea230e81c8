"""Test doubles: a recording adapter (an errbot-style push/pop fake) and event builders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from bot import actions as A
from bot.actions import Button, keyboard
from bot.app import App
from bot.clock import FakeClock
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import (
    Attachment,
    ButtonPressed,
    ChatRef,
    MemberJoined,
    MemberLeft,
    MessagePosted,
    Replied,
    UserRef,
)
from bot.feature import Feature
from bot.files import FileRefused
from bot.markup import plain
from bot.outbox import Outbox, RateLimits
from handlers import default_features
from storage.db import Database

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=SHANGHAI)
PLATFORM = "test"


class RecordingAdapter:
    """Records every action; can be told to fail the next calls in given ways."""

    platform = PLATFORM

    def __init__(self, limits: RateLimits | None = None) -> None:
        self.limits = limits or RateLimits()
        self.actions: list[A.Action] = []
        self.failures: list[Exception] = []
        self.attempts = 0
        self._ids = count(10_000)
        self.admins: dict[str, set[str]] = {}  # chat id -> who the "platform" says is an admin there

    async def member_is_admin(self, chat_id: str, user_id: str) -> bool:
        return user_id in self.admins.get(chat_id, set())

    async def fetch_file(self, attachment: Attachment, max_bytes: int) -> bytes:
        """A test's attachment is a local file (its `ref` is the path)."""
        path = Path(attachment.ref)
        if path.stat().st_size > max_bytes:
            raise FileRefused("too_big")
        return path.read_bytes()

    async def perform(self, action: A.Action) -> A.ActionResult:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        self.actions.append(action)
        return A.ActionResult(ok=True, message_id=str(next(self._ids)))

    def texts(self) -> list[str]:
        """What members would read (mentions as @name)."""
        return [plain(a.text) for a in self.actions if isinstance(a, A.Send | A.Reply | A.DirectMessage)]

    def pop_texts(self) -> list[str]:
        out = self.texts()
        self.actions.clear()
        return out


class Harness:
    """An App on a given database with a fake clock and a recording adapter."""

    def __init__(self, db: Database, features: Iterable[Feature] | None = None, start: datetime = T0) -> None:
        self.db = db
        self.clock = FakeClock(start)
        self.adapter = RecordingAdapter()
        self.outbox = Outbox(sleep=_no_sleep)
        self.outbox.register(self.adapter)
        self._features = list(features) if features is not None else default_features()
        self.app = App(db, self.clock, self.outbox, self._features, manual_scheduler=True)
        self._ids = count(1)

    async def start(self) -> Harness:
        await self.app.start()
        return self

    async def restart(self) -> None:
        await self.app.stop()
        self.app = App(self.db, self.clock, self.outbox, self._features, manual_scheduler=True)
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()

    def chat(self, chat_id: str = "g1") -> ChatRef:
        return ChatRef(PLATFORM, chat_id, f"Group {chat_id}")

    def message(
        self,
        user: str,
        text: str,
        *,
        chat_id: str = "g1",
        admin: bool = False,
        key: str | None = None,
        reply_to: MessagePosted | None = None,
        edited: bool = False,
        mid: str | None = None,
    ) -> MessagePosted:
        mid = mid or str(next(self._ids))
        replied = None
        if reply_to is not None:
            replied = Replied(reply_to.message_id, reply_to.user, reply_to.text)
        return MessagePosted(
            event_key=key or f"t:{chat_id}:{mid}",
            chat=self.chat(chat_id),
            user=UserRef(user, user, user),
            is_admin=admin,
            at=self.clock.now(),
            message_id=mid,
            text=text,
            reply_to=None if reply_to is None else reply_to.message_id,
            replied=replied,
            edited=edited,
        )

    async def say(self, user: str, text: str, **kw: object) -> list[str]:
        await self.app.handle(self.message(user, text, **kw))  # type: ignore[arg-type]
        return self.adapter.pop_texts()

    def _event_base(self, user: str, chat_id: str, kind: str) -> dict[str, Any]:
        n = next(self._ids)
        return {
            "event_key": f"t:{chat_id}:{kind}:{user}:{n}",
            "chat": self.chat(chat_id),
            "user": UserRef(user, user, user),
            "is_admin": False,
            "at": self.clock.now(),
        }

    def join_event(self, user: str, chat_id: str = "g1") -> MemberJoined:
        return MemberJoined(**self._event_base(user, chat_id, "join"))

    async def join(self, user: str, chat_id: str = "g1") -> None:
        await self.app.handle(self.join_event(user, chat_id))

    async def leave(self, user: str, chat_id: str = "g1") -> None:
        await self.app.handle(MemberLeft(**self._event_base(user, chat_id, "leave")))

    async def press(
        self, user: str, data: str, message_id: str = "1", chat_id: str = "g1", *, admin: bool = False
    ) -> None:
        base = self._event_base(user, chat_id, "cb") | {"is_admin": admin}
        await self.app.handle(
            ButtonPressed(**base, message_id=message_id, data=data, callback_id=base["event_key"])
        )

    async def advance(self, delta: timedelta) -> None:
        await self.app.scheduler.advance_to(self.clock.now() + delta)

    async def balance(self, user: str, chat_id: str = "g1") -> int:
        """A member's spendable points, as the ledger's balance table holds them."""
        from storage.points import PointsRepo

        await self.app.writer.flush()  # message points ride the activity batch
        group = await self.app.groups.get(PLATFORM, chat_id)
        assert group is not None
        return (await PointsRepo(self.db).balance(group.id, user)).balance

    def take(self) -> list[A.Action]:
        out = list(self.adapter.actions)
        self.adapter.actions.clear()
        return out


async def _no_sleep(_seconds: float) -> None:
    return None


class Tools(Feature):
    """Buttons, delete and mute, to see the Bot API calls they become."""

    name = "tools"
    button_prefix = "tools"

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec("poll", self.poll, feature=self.name),
            CommandSpec("hush", self.hush, feature=self.name),
            CommandSpec("reward", self.reward, RewardArgs, feature=self.name),
            CommandSpec("banme", self.banme, feature=self.name),
            CommandSpec("slow", self.slow, feature=self.name),
            CommandSpec("slowme", self.slowme, feature=self.name),
        ]

    async def poll(self, ctx: Context, _args: Any) -> None:
        await ctx.send(
            "Tea or coffee?", keyboard([Button("Tea", "tools:tea"), Button("Coffee", "tools:" + "c" * 80)])
        )

    async def on_button(self, ctx: Context, event: ButtonPressed, payload: str) -> None:
        await ctx.answer_button(f"{event.user.name} chose {payload[:6]}")

    seen: ClassVar[list[MessagePosted]] = []

    async def on_message(self, ctx: Context, event: MessagePosted) -> bool:
        Tools.seen.append(event)
        return False

    async def hush(self, ctx: Context, _args: Any) -> None:
        assert ctx.event is not None
        await ctx.delete(ctx.event.message_id)  # type: ignore[attr-defined]
        await ctx.mute(ctx.event.user.user_id, ctx.now() + timedelta(hours=1))

    async def reward(self, ctx: Context, args: RewardArgs) -> None:
        assert ctx.event is not None
        result = await ctx.act_now(A.GrantRole(chat=ctx.chat, user_id=ctx.event.user.user_id, role=args.role))
        await ctx.reply("role granted" if result.ok else f"no role: {result.failure}")

    async def banme(self, ctx: Context, _args: Any) -> None:
        assert ctx.event is not None
        await ctx.ban(ctx.event.user.user_id, delete_message_days=1)
        await ctx.send("banned")

    async def slow(self, ctx: Context, _args: Any) -> None:
        await asyncio.sleep(0.5)  # slower than the platform's answer window in tests
        await ctx.reply("done at last")

    async def slowme(self, ctx: Context, _args: Any) -> None:
        await asyncio.sleep(0.5)
        await ctx.reply("only for you", ephemeral=True)


class RewardArgs(BaseModel):
    role: str


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Wait until an asynchronous condition holds (work handed to other tasks), failing after `within`."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - the state lives in other tasks and the database: poll it
            await asyncio.sleep(0.02)


async def kill_while_advancing(
    h: Harness, target: datetime, kill_at: int | None
) -> tuple[list[A.Action], int]:
    """Advance `h` to `target`, dying at fault point `kill_at` (None: count the points instead), and
    abandon the process as a kill would (no flush, no stop). Returns what was sent and the points passed."""
    from bot import faults

    if kill_at is None:
        faults.count()
    else:
        faults.arm(kill_at)
    try:
        await h.app.scheduler.advance_to(target)
    except faults.Killed:
        pass
    finally:
        points = faults.disarm()
    sent = h.take()
    if h.app.writer._task is not None:
        h.app.writer._task.cancel()
    await h.db.close()
    return sent, points


async def restarted(h: Harness, db: Database, later: timedelta = timedelta()) -> Harness:
    """The next process after a kill: the same platform (adapter, outbox) on the reopened database."""
    again = Harness(db, start=h.clock.now() + later)
    again.adapter, again.outbox = h.adapter, h.outbox
    again.app.outbox = h.outbox
    await again.start()
    return again
