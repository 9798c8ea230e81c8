"""The outbox: every action reaches its adapter through here, under the platform's rate limits.

Design taken from python-telegram-bot's AIORateLimiter, applied in the core so Discord gets it too:
one overall limiter plus one per chat; a 429 pauses everything for that platform, then the call is retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from aiolimiter import AsyncLimiter

from bot.actions import (
    Action,
    ActionResult,
    AnswerButton,
    DirectMessage,
    EditMessage,
    Failure,
    PermanentError,
    RetryAfter,
    SendFile,
    TransientError,
)
from bot.events import Attachment, ChatRef
from bot.files import FileRefused
from bot.keyboards import UNLIMITED, Grid

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Calls per second overall and per minute per chat; None lifts a limit (console, tests)."""

    overall_per_second: float | None = None
    per_chat_per_minute: float | None = None


TELEGRAM_LIMITS = RateLimits(overall_per_second=30, per_chat_per_minute=20)
# Discord: 50 requests/s per bot, about 5 messages per 5 s per channel.
DISCORD_LIMITS = RateLimits(overall_per_second=45, per_chat_per_minute=60)


class Adapter(Protocol):
    platform: str
    limits: RateLimits
    # True where a bot may only DM users who opened a chat with it first (Telegram); False where DMs
    # are tried and refused by the platform when closed (Discord). Adapters without it: True.
    dm_opt_in: bool

    async def perform(self, action: Action) -> ActionResult:
        """Carry the action out; raise RetryAfter, TransientError or PermanentError on failure."""
        ...

    # Adapters may also have `async def fetch_file(attachment, max_bytes) -> bytes`: a member's file.

    async def member_is_admin(self, chat_id: str, user_id: str) -> bool:
        """What the platform says now (a cache of minutes at most): is this user an admin of that group?
        For checks an event's own `is_admin` cannot answer: an admin chat acting on another group."""
        ...


class _Lane:
    """The limiters and pause state of one adapter."""

    def __init__(self, adapter: Adapter, max_chats: int = 10_000) -> None:
        self.adapter = adapter
        limits = adapter.limits
        # Evenly spaced, never a burst: a platform that counts per second sees at most its limit in any
        # second (a bucket of 30 lets 59 through in the first second after a quiet spell).
        self.overall = AsyncLimiter(1, 1 / limits.overall_per_second) if limits.overall_per_second else None
        self.slot = 1 / limits.overall_per_second if limits.overall_per_second else 0.0
        self.foreground = 0  # foreground calls waiting for or holding a slot
        self.idle = asyncio.Event()  # set while none is: background sends may take a slot
        self.idle.set()
        self.per_chat_rate = limits.per_chat_per_minute
        self.chats: OrderedDict[str, AsyncLimiter] = OrderedDict()
        self.max_chats = max_chats
        self.resume = asyncio.Event()
        self.resume.set()

    def chat_limiter(self, chat_id: str) -> AsyncLimiter | None:
        if not self.per_chat_rate:
            return None
        lim = self.chats.get(chat_id)
        if lim is None:
            lim = self.chats[chat_id] = AsyncLimiter(self.per_chat_rate, 60)
            if len(self.chats) > self.max_chats:
                self.chats.popitem(last=False)
        else:
            self.chats.move_to_end(chat_id)
        return lim


Sleep = Callable[[float], Awaitable[None]]


class _Edit:
    """An edit of one message waiting for its turn: a newer edit of the same message replaces its
    content (the latest state is what the message must show) and shares its result."""

    __slots__ = ("action", "done")

    def __init__(self, action: EditMessage) -> None:
        self.action = action
        self.done: asyncio.Future[ActionResult] = asyncio.get_running_loop().create_future()


class _EditSlot:
    """The edits of one message: one at the platform at a time, in order (an older text never lands
    after a newer one), and at most one waiting, which newer edits update."""

    __slots__ = ("lock", "users", "waiting")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.waiting: _Edit | None = None
        self.users = 0


def _budget_free(action: Action) -> bool:
    """Calls that are no message in the group and so take no slot of its per-chat budget: a DM, a file
    to a member, the answer to a button press (answerCallbackQuery; a Discord interaction response)."""
    return isinstance(action, DirectMessage | AnswerButton) or (isinstance(action, SendFile) and bool(action.user_id))


class Outbox:
    def __init__(self, *, max_retries: int = 5, backoff: float = 0.5, sleep: Sleep = asyncio.sleep) -> None:
        self._lanes: dict[str, _Lane] = {}
        # Edits waiting for a slot, by (platform, chat, message): 15 presses on one card are at most one
        # edit in flight and one waiting (with the latest text), not 15 against the group's budget.
        self._edits: dict[tuple[str, str, str], _EditSlot] = {}
        self.coalesced = 0  # edits replaced by a newer one of the same message before they were sent
        self._max_retries = max_retries
        self._backoff = backoff
        self._sleep = sleep

    def register(self, adapter: Adapter) -> None:
        self._lanes[adapter.platform] = _Lane(adapter)

    def platforms(self) -> list[str]:
        return list(self._lanes)

    def has_roles(self, platform: str) -> bool:
        """Whether the platform has roles to give (Discord); Telegram has none."""
        lane = self._lanes.get(platform)
        return lane is not None and bool(getattr(lane.adapter, "roles", True))

    def private_answers(self, platform: str) -> bool:
        """Whether a button can be answered with a text only its presser sees (a Discord ephemeral
        message); Telegram's answer is a 200-character toast, so features edit the message instead."""
        lane = self._lanes.get(platform)
        return lane is not None and bool(getattr(lane.adapter, "private_answers", False))

    def delete_window(self, platform: str) -> timedelta | None:
        """How old a message may be for the bot to delete it (Telegram: 48 hours); None: any age."""
        lane = self._lanes.get(platform)
        return None if lane is None else getattr(lane.adapter, "delete_window", None)

    def permission_kinds(
        self, platform: str, locked: frozenset[str], chat_id: str | None = None
    ) -> frozenset[str]:
        """Which of the locked kinds the platform's own permissions refuse (A.RestrictKinds); none
        where the platform has no such permissions or no adapter runs for it. With `chat_id`: in that
        group as things stand (none when the bot lacks the right to set them there)."""
        lane = self._lanes.get(platform)
        kinds = getattr(lane.adapter, "permission_kinds", None) if lane is not None else None
        if kinds is None:
            return frozenset()
        return frozenset(kinds(locked) if chat_id is None else kinds(locked, chat_id))

    def button_grid(self, platform: str) -> Grid:
        """How many buttons a row and rows one message may carry there (bot/keyboards.py)."""
        lane = self._lanes.get(platform)
        return UNLIMITED if lane is None else getattr(lane.adapter, "button_grid", UNLIMITED)

    def chat_limited(self, platform: str) -> bool:
        """Whether the platform's groups have a send budget (Telegram 20 a minute); not the console's or
        tests' lifted limits. What a member's presses could exhaust there is rationed (bot/presses.py)."""
        lane = self._lanes.get(platform)
        return lane is not None and bool(lane.per_chat_rate)

    def dm_opt_in(self, platform: str) -> bool:
        lane = self._lanes.get(platform)
        return True if lane is None else bool(getattr(lane.adapter, "dm_opt_in", True))

    async def is_admin(self, chat: ChatRef, user_id: str) -> bool:
        """Ask the platform whether `user_id` is an admin of `chat`; False when it cannot tell."""
        lane = self._lanes.get(chat.platform)
        if lane is None:
            return False
        try:
            return bool(await lane.adapter.member_is_admin(chat.chat_id, user_id))
        except Exception:
            log.exception("cannot ask %s whether %s is an admin of %s", chat.platform, user_id, chat.chat_id)
            return False

    async def fetch_file(self, platform: str, attachment: Attachment, max_bytes: int) -> bytes:
        """A member's attached file, at most `max_bytes` (checked before and while downloading);
        raises FileRefused("too_big" | "unavailable") as a fact a handler can answer."""
        if attachment.size is not None and attachment.size > max_bytes:
            raise FileRefused("too_big")
        lane = self._lanes.get(platform)
        fetch = getattr(lane.adapter, "fetch_file", None) if lane is not None else None
        if fetch is None:
            raise FileRefused("unavailable")
        for attempt in range(self._max_retries + 1):
            try:
                data = bytes(await fetch(attachment, max_bytes))
                break
            except FileRefused:
                raise
            except (RetryAfter, TransientError) as exc:
                if attempt == self._max_retries:
                    raise FileRefused("unavailable") from exc
                await self._sleep(exc.seconds if isinstance(exc, RetryAfter) else self._backoff * 2**attempt)
            except Exception as exc:
                log.warning("cannot download %r from %s: %s", attachment.name, platform, exc)
                raise FileRefused("unavailable") from exc
        if len(data) > max_bytes:
            raise FileRefused("too_big")
        return data

    async def deliver(self, action: Action, *, background: bool = False) -> ActionResult:
        """Send under the limits. `background` (a scheduled job's sends: 5,000 recall DMs) takes a slot
        only while no foreground call (an answer to a member) waits for one, so a long campaign never
        makes a command in another group wait behind it."""
        result = await self._deliver(action, background)
        if not result.ok and isinstance(action, DirectMessage | SendFile) and action.fallback is not None:
            fallback = await self._deliver(action.fallback, background)
            extra = {**fallback.extra, "dm_refused": result.failure or ""}
            return ActionResult(fallback.ok, fallback.message_id, fallback.failure, fallback.detail, extra)
        return result

    async def _deliver(self, action: Action, background: bool = False) -> ActionResult:
        lane = self._lanes.get(action.chat.platform)
        if lane is None:
            log.error("no adapter for platform %s: dropped %r", action.chat.platform, action)
            return ActionResult(ok=False, failure=Failure.NO_ADAPTER)
        if not isinstance(action, EditMessage):
            return await self._attempt(lane, action, background)
        key = (action.chat.platform, action.chat.chat_id, action.message_id)
        slot = self._edits.get(key)
        if slot is not None and slot.waiting is not None:
            # an older edit of this message has not taken its slot yet: it carries our text instead
            slot.waiting.action = action
            self.coalesced += 1
            return await asyncio.shield(slot.waiting.done)
        if slot is None:
            slot = self._edits[key] = _EditSlot()
        edit = slot.waiting = _Edit(action)
        slot.users += 1
        try:
            async with slot.lock:
                result = await self._attempt(lane, action, background, (slot, edit))
        except BaseException as exc:
            if not edit.done.done():
                edit.done.set_exception(exc)
                edit.done.exception()  # retrieved: the waiters get it, nobody else must
            raise
        finally:
            if slot.waiting is edit:
                slot.waiting = None
            slot.users -= 1
            if not slot.users and self._edits.get(key) is slot:
                del self._edits[key]
        if not edit.done.done():
            edit.done.set_result(result)
        return result

    async def _attempt(
        self, lane: _Lane, action: Action, background: bool, edit: tuple[_EditSlot, _Edit] | None = None
    ) -> ActionResult:
        attempt = 0
        while True:
            await lane.resume.wait()
            await self._acquire(lane, action, background)
            if edit is not None:
                # it has its slot: it sends the latest text, and a newer edit now waits its own turn
                slot, mine = edit
                if slot.waiting is mine:
                    slot.waiting = None
                action = mine.action
            try:
                return await lane.adapter.perform(action)
            except RetryAfter as exc:
                attempt += 1
                if attempt > self._max_retries:
                    log.error("rate limited %d times, giving up on %r", attempt, action)
                    return ActionResult(ok=False, failure=Failure.RATE_LIMITED, detail=str(exc))
                log.warning(
                    "%s asked to retry after %.1fs; pausing that platform", lane.adapter.platform, exc.seconds
                )
                await self._pause(lane, exc.seconds)
            except TransientError as exc:
                attempt += 1
                if attempt > self._max_retries:
                    log.error("giving up after %d attempts on %r: %s", attempt, action, exc)
                    return ActionResult(ok=False, failure=Failure.UNAVAILABLE, detail=str(exc))
                await self._sleep(self._backoff * 2 ** (attempt - 1))
            except PermanentError as exc:
                log.warning("%s failed permanently (%s): %r", type(action).__name__, exc, action)
                return ActionResult(ok=False, failure=exc.failure, detail=exc.detail)
            except (
                Exception
            ) as exc:  # an adapter bug must not take the handler (and the rest of its work) down
                log.exception("adapter %s failed on %r", lane.adapter.platform, action)
                return ActionResult(ok=False, failure=Failure.INTERNAL, detail=repr(exc))

    async def _acquire(self, lane: _Lane, action: Action, background: bool) -> None:
        if lane.overall is not None:
            if background:
                # Never queue inside the limiter (its waiters are served in order): take a slot only
                # when one is free and no foreground call waits, else look again a slot later.
                while lane.foreground or not lane.overall.has_capacity():
                    if lane.foreground:
                        await lane.idle.wait()
                    else:
                        await asyncio.sleep(lane.slot)  # real time, as the limiter counts it
                await lane.overall.acquire()
            else:
                lane.foreground += 1
                lane.idle.clear()
                try:
                    await lane.overall.acquire()
                finally:
                    lane.foreground -= 1
                    if not lane.foreground:
                        lane.idle.set()
        if not _budget_free(action):
            chat = lane.chat_limiter(action.chat.chat_id)
            if chat is not None:
                await chat.acquire()

    async def _pause(self, lane: _Lane, seconds: float) -> None:
        if lane.resume.is_set():
            lane.resume.clear()
            try:
                await self._sleep(seconds)
            finally:
                lane.resume.set()
        else:
            await lane.resume.wait()
