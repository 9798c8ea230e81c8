"""Onboarding tasks (新手任务): a checklist for a member's first 7 days, each detected from real events.

Completing one announces "onboarding.task_done" (user_id, task) for the points feature to pay for it.
Tasks whose feature this build does not run stay hidden.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.clock import from_ms
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import MessagePosted
from bot.feature import Feature
from storage.welcome import WelcomeRepo

WINDOW = timedelta(days=7)
INTRO_MIN_CHARS = 10
# (task, the feature it needs, or None)
TASKS: tuple[tuple[str, str | None], ...] = (
    ("intro", None),
    ("rules", None),
    ("checkin", "checkin"),
    ("upvote", "needs"),
)
_CACHE = 20_000


@dataclass(slots=True)
class _Member:
    joined_ms: int | None  # None: not a newcomer we track
    done: set[str] = field(default_factory=set)


class OnboardingFeature(Feature):
    name = "onboarding"
    priority = 60

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple[int, str], _Member] = OrderedDict()

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec("tasks", self.tasks_cmd, aliases=("任务",), triggers=("新手任务",), feature=self.name)
        ]

    def visible(self, ctx: Context) -> list[str]:
        return [task for task, needs in TASKS if needs is None or ctx.app.has_feature(needs)]

    async def _member(self, ctx: Context, user_id: str) -> _Member:
        """Loaded once per member per run: the hot path (every message) reads memory only."""
        key = (ctx.group.id, user_id)
        cached = self._cache.get(key)
        if cached is None:
            member = await ctx.app.members.get(ctx.group.id, user_id)
            joined = member.joined_ms if member is not None else None
            done = set(await WelcomeRepo(ctx.app.db).tasks_done(ctx.group.id, user_id)) if joined else set()
            cached = self._cache[key] = _Member(joined, done)
            if len(self._cache) > _CACHE:
                self._cache.popitem(last=False)
        return cached

    def _forget(self, group_id: int, user_id: str) -> None:
        self._cache.pop((group_id, user_id), None)

    async def on_join(self, ctx: Context, event: Any) -> None:
        self._forget(ctx.group.id, event.user.user_id)  # a (re)join starts a fresh window

    def _active(self, ctx: Context, m: _Member) -> bool:
        return m.joined_ms is not None and ctx.now() - from_ms(m.joined_ms) <= WINDOW

    async def complete(self, ctx: Context, user_id: str, task: str, *, announce: bool = True) -> None:
        if task not in self.visible(ctx):
            return
        m = await self._member(ctx, user_id)
        if task in m.done or not self._active(ctx, m):
            return
        if not await WelcomeRepo(ctx.app.db).complete_task(ctx.group.id, user_id, task, ctx.now_ms()):
            m.done.add(task)
            return
        m.done.add(task)
        await ctx.app.emit(ctx, "onboarding.task_done", user_id=user_id, task=task)
        visible = self.visible(ctx)
        done = len([t for t in visible if t in m.done])
        p = ctx.settings.points
        earned = ctx.t("onboarding.task_points", points=p.task_points) if p.enabled and p.task_points else ""
        if done == len(visible):  # the last one is always celebrated
            key = "onboarding.all_done_points" if earned else "onboarding.all_done"
            await ctx.announce(ctx.t(key, done=done, total=len(visible), points=p.task_points))
        elif announce:
            await ctx.announce(
                ctx.t(
                    "onboarding.task_done",
                    task=ctx.t(f"onboarding.task.{task}"),
                    done=done,
                    total=len(visible),
                )
                + earned
            )

    async def on_message(self, ctx: Context, event: MessagePosted) -> bool:
        text = event.text.strip()
        if event.edited or text.startswith(("/", "／")) or len(text) < INTRO_MIN_CHARS:
            return False
        m = await self._member(ctx, event.user.user_id)
        if self._active(ctx, m) and "intro" not in m.done:
            await self.complete(ctx, event.user.user_id, "intro")
        return False

    async def on_signal(self, ctx: Context, name: str, data: dict[str, Any]) -> None:
        if name == "rules.viewed":
            await self.complete(ctx, data["user_id"], "rules", announce=False)
        elif name == "checkin.done":
            await self.complete(ctx, data["user_id"], "checkin")
        elif name == "needs.upvoted":
            await self.complete(ctx, data["user_id"], "upvote")
        elif name == "onboarding.show":
            await self.show(ctx, data["user_id"], via_button=bool(data.get("via_button")))

    async def show(self, ctx: Context, user_id: str, *, via_button: bool = False) -> None:
        m = await self._member(ctx, user_id)
        lines = []
        for task in self.visible(ctx):
            mark = "✅" if task in m.done else "⬜"
            lines.append(f"{mark} {ctx.t(f'onboarding.task.{task}')}")
        if m.joined_ms is None:
            head = ctx.t("onboarding.not_newcomer")
        else:
            left = WINDOW - (ctx.now() - from_ms(m.joined_ms))
            head = (
                ctx.t("onboarding.title", days=max(1, left.days + (1 if left.seconds else 0)))
                if left.total_seconds() > 0
                else ctx.t("onboarding.expired")
            )
        text = head + "\n" + "\n".join(lines)
        if via_button:
            await ctx.answer_button(text[:200], alert=True)
        else:
            await ctx.reply(text, ephemeral=True)

    async def tasks_cmd(self, ctx: Context, _args: object) -> None:
        assert ctx.event is not None
        await self.show(ctx, ctx.event.user.user_id)
