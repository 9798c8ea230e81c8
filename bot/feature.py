"""What a handler module declares: its commands, event hooks, button prefix and scheduled jobs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from bot.actions import ActionResult
from bot.commands import CommandSpec
from bot.events import ButtonPressed, Event, MemberJoined, MemberLeft, MessagePosted

if TYPE_CHECKING:
    from bot.app import App
    from bot.context import Context
    from storage.jobs import JobRecord

JobFunc = Callable[["App", "Context | None", "JobRecord"], Awaitable[None]]


class Feature:
    """Base class of a feature. Hooks run in `priority` order (moderation first: a deleted message earns nothing)."""

    name: ClassVar[str] = ""
    settings_section: ClassVar[str | None] = None  # the GroupSettings section this feature owns
    priority: ClassVar[int] = 100
    button_prefix: ClassVar[str | None] = None  # button data "<prefix>:<payload>" is routed here

    def commands(self) -> list[CommandSpec]:
        return []

    def jobs(self) -> dict[str, JobFunc]:
        """Job functions by short name; a job's kind is "<feature name>.<short name>"."""
        return {}

    async def on_start(self, app: App) -> None:
        """Called once the app is up (ensure system jobs, warm caches)."""

    async def on_message(self, ctx: Context, event: MessagePosted) -> bool:
        """Return True to stop lower-priority hooks (and command handling) for this message."""
        return False

    async def on_active(self, ctx: Context, event: Event) -> None:
        """A member did something in the group (a message, command, button press), before any other
        hook sees it. Runs for every such event: keep it to a memory look-up unless it concerns you."""

    async def on_join(self, ctx: Context, event: MemberJoined) -> None:
        """A member joined."""

    async def on_leave(self, ctx: Context, event: MemberLeft) -> None:
        """A member left or was removed."""

    async def on_button(self, ctx: Context, event: ButtonPressed, payload: str) -> None:
        """A button with this feature's prefix was pressed."""

    async def on_direct_button(self, app: App, event: ButtonPressed, payload: str) -> None:
        """A button of this feature pressed in a private chat with the bot (a DM's "stop these"): no
        group context; the payload must say which group it concerns, and the presser is the one asking."""
        await app.answer_direct(event, "")

    async def on_signal(self, ctx: Context, name: str, data: dict[str, Any]) -> None:
        """A fact another feature announced (e.g. "welcome.verified", "onboarding.task_done"), so features
        can build on each other without importing each other."""

    async def prune(self, app: App, now_ms: int) -> None:
        """Daily housekeeping (handlers/maintenance.py, 04:00 Beijing time): delete what this feature
        keeps only for a while."""

    async def on_sent(self, app: App, payload: str, result: ActionResult) -> None:
        """The platform's answer to an action queued with `remember="<feature name>:<payload>"` (a message
        id to keep). It arrives after the unit committed; a process killed in between loses it."""
