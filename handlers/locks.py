"""Locks (/lock, /unlock, /locks): what members may not post — links, photos, videos, files, stickers,
GIFs, voice, forwards, polls. A locked kind posted by a member is deleted quietly, with at most one
notice per member per hour; admins and trusted members are never held to a lock.

A lock is enforced by deleting the message on every platform; it runs before moderation, so a deleted
message earns nothing and triggers nothing else. Where the platform's own permissions can refuse a kind
(Discord: files, voice messages, polls, external stickers), the whole lock state is also sent as one
idempotent `RestrictKinds` after every /lock, /unlock, /trust and /untrust, so the client refuses it
before it is posted and trusted members keep the right (adapters/discord/locks.py).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict

from bot import actions as A
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import MESSAGE_KINDS, MessagePosted
from bot.feature import Feature
from bot.native import Kinds
from bot.parsing import REST, tokenize
from handlers.trust import is_trusted
from rules import detectors
from storage.locks import LockRepo
from storage.moderation import ModerationRepo
from storage.trust import TrustRepo

KINDS = ("link", *MESSAGE_KINDS)
WORDS = {
    **{k: (k,) for k in KINDS},
    "links": ("link",),
    "media": ("photo", "video", "file"),
    "photos": ("photo",),
    "videos": ("video",),
    "files": ("file",),
    "stickers": ("sticker", "gif"),
    "gifs": ("gif",),
    "forwards": ("forward",),
    "polls": ("poll",),
    "all": KINDS,
    "链接": ("link",),
    "媒体": ("photo", "video", "file"),
    "图片": ("photo",),
    "视频": ("video",),
    "文件": ("file",),
    "贴纸": ("sticker", "gif"),
    "表情": ("sticker", "gif"),
    "动图": ("gif",),
    "语音": ("voice",),
    "转发": ("forward",),
    "投票": ("poll",),
    "全部": KINDS,
}
NOTICE_EVERY_MS = 3_600_000
_NOTICES = 20_000  # members remembered for the once-an-hour notice


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rest: Annotated[str, REST] = ""


class LocksFeature(Feature):
    name = "locks"
    priority = 5

    def __init__(self) -> None:
        self._locks: dict[int, frozenset[str]] = {}  # per group, loaded once, kept current by /lock
        self._noticed: OrderedDict[tuple[int, str], int] = OrderedDict()

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "lock", self.lock_cmd, Args, aliases=("锁定",), admin_only=True, feature=self.name, native_args=Kinds
            ),
            CommandSpec(
                "unlock",
                self.unlock_cmd,
                Args,
                aliases=("解锁",),
                admin_only=True,
                feature=self.name,
                native_args=Kinds,
            ),
            CommandSpec("locks", self.locks_cmd, aliases=("锁定列表",), admin_only=True, feature=self.name),
        ]

    async def locked(self, ctx: Context) -> frozenset[str]:
        found = self._locks.get(ctx.group.id)
        if found is None:
            found = self._locks[ctx.group.id] = await LockRepo(ctx.app.db).locked(ctx.group.id)
        return found

    # --- enforcing -----------------------------------------------------------------------------------

    async def on_message(self, ctx: Context, event: MessagePosted) -> bool:
        locked = await self.locked(ctx)
        if not locked or event.is_admin or event.edited:
            return False
        hit = next((k for k in event.kinds if k in locked), None)
        if hit is None and "link" in locked and "." in event.text:
            allowed = await ModerationRepo(ctx.app.db).domains(ctx.group.id)
            hit = "link" if detectors.links(event.text, allowed) else None
        if hit is None or await is_trusted(ctx, event.user.user_id):
            return False
        await ctx.delete(event.message_id)
        key, now = (ctx.group.id, event.user.user_id), ctx.now_ms()
        last = self._noticed.get(key)
        if last is None or now - last >= NOTICE_EVERY_MS:
            self._noticed[key] = now
            self._noticed.move_to_end(key)
            if len(self._noticed) > _NOTICES:
                self._noticed.popitem(last=False)
            await ctx.send(ctx.t("locks.notice", name=event.user.name[:40], kind=ctx.t(f"locks.kind.{hit}")))
        return True

    async def on_signal(self, ctx: Context, name: str, data: dict[str, Any]) -> None:
        if name == "trust.changed":
            await self.restrict(ctx, await self.locked(ctx))

    async def restrict(self, ctx: Context, before: frozenset[str]) -> frozenset[str]:
        """Where the platform's permissions can refuse kinds, send it the whole lock state (after the
        unit commits, like any action); the kinds it will refuse itself in this group, which is none
        where the bot may not set permissions here (the adapter then tells the admins once). Nothing is
        sent when it refuses none of the kinds locked before or after (a links lock touches no channel)."""
        outbox, platform = ctx.app.outbox, ctx.chat.platform
        self._locks.pop(ctx.group.id, None)
        locked = await self.locked(ctx)
        if not outbox.permission_kinds(platform, locked) and not outbox.permission_kinds(platform, before):
            return frozenset()
        exempt = tuple(await TrustRepo(ctx.app.db).user_ids(ctx.group.id))
        await ctx.act(A.RestrictKinds(chat=ctx.chat, kinds=tuple(sorted(locked)), exempt=exempt))
        return outbox.permission_kinds(platform, locked, ctx.chat.chat_id)

    # --- commands ------------------------------------------------------------------------------------

    def kinds(self, rest: str) -> list[str] | None:
        out: list[str] = []
        for token in tokenize(rest):
            found = WORDS.get(token.text.lower())
            if found is None:
                return None
            out += [k for k in found if k not in out]
        return out or None

    async def lock_cmd(self, ctx: Context, args: Args) -> None:
        kinds = self.kinds(args.rest)
        if kinds is None:
            await ctx.reply(ctx.t("locks.usage", kinds=" ".join(KINDS)), ephemeral=True)
            return
        assert ctx.event is not None
        before = await self.locked(ctx)
        await LockRepo(ctx.app.db).lock(ctx.group.id, kinds, ctx.event.user.name, ctx.now_ms())
        lines = [ctx.t("locks.locked", kinds=self.names(ctx, kinds))]
        by_platform = await self.restrict(ctx, before)
        if by_platform:
            lines.append(
                ctx.t("locks.by_permission", kinds=self.names(ctx, [k for k in KINDS if k in by_platform]))
            )
        await ctx.reply("\n".join(lines))

    async def unlock_cmd(self, ctx: Context, args: Args) -> None:
        kinds = self.kinds(args.rest)
        if kinds is None:
            await ctx.reply(ctx.t("locks.usage", kinds=" ".join(KINDS)), ephemeral=True)
            return
        before = await self.locked(ctx)
        await LockRepo(ctx.app.db).unlock(ctx.group.id, kinds)
        await self.restrict(ctx, before)
        await ctx.reply(ctx.t("locks.unlocked", kinds=self.names(ctx, kinds)))

    async def locks_cmd(self, ctx: Context, _args: object) -> None:
        self._locks.pop(ctx.group.id, None)
        locked = [k for k in KINDS if k in await self.locked(ctx)]
        key = "locks.list" if locked else "locks.none"
        await ctx.reply(ctx.t(key, kinds=self.names(ctx, locked)))

    def names(self, ctx: Context, kinds: list[str]) -> str:
        return ctx.join(ctx.t(f"locks.kind.{k}") for k in kinds)
