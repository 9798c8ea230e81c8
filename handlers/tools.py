"""Everyday group tools for admins: /pin and /unpin, /del, and /trust for members who skip the automatic
checks. Each acts on the message the command replies to (or the member it names) and says plainly what
the platform refused.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from pydantic import BaseModel, ConfigDict

from bot import actions as A
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import CommandInvoked, MessagePosted
from bot.feature import Feature
from bot.markup import mention
from bot.native import Count, MemberOnly
from bot.parsing import REST, parse_int, parse_mention, tokenize
from storage.members import Member
from storage.trust import TrustRepo

QUIET = {"silent", "quiet", "静默", "安静"}
PURGE_MAX = 500  # messages one /purge takes at most
LOUD = {"loud", "notify", "通知"}


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rest: Annotated[str, REST] = ""


def replied_id(ctx: Context) -> str | None:
    replied = ctx.replied()
    return None if replied is None else replied.message_id


class ToolsFeature(Feature):
    name = "tools"
    priority = 99

    def commands(self) -> list[CommandSpec]:
        spec = CommandSpec
        return [
            spec("pin", self.pin_cmd, Args, aliases=("置顶",), admin_only=True, feature=self.name, target="message"),
            spec(
                "unpin", self.unpin_cmd, aliases=("取消置顶",), admin_only=True, feature=self.name, target="message"
            ),
            spec("del", self.del_cmd, aliases=("删除",), admin_only=True, feature=self.name, target="message"),
            spec("purge", self.purge_cmd, Args, aliases=("清理",), admin_only=True, feature=self.name, native_args=Count),
            spec(
                "trust", self.trust_cmd, Args, aliases=("信任",), admin_only=True, feature=self.name, native_args=MemberOnly
            ),
            spec(
                "untrust",
                self.untrust_cmd,
                Args,
                aliases=("取消信任",),
                admin_only=True,
                feature=self.name,
                native_args=MemberOnly,
            ),
            spec("trusted", self.trusted_cmd, aliases=("信任名单",), admin_only=True, feature=self.name),
        ]

    # --- pin, unpin, del -----------------------------------------------------------------------------

    async def pin_cmd(self, ctx: Context, args: Args) -> None:
        target = replied_id(ctx)
        words = {t.text.lower() for t in tokenize(args.rest)}
        if target is None or not words <= QUIET | LOUD:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.pin.usage")), ephemeral=True)
            return
        # Pinning is idempotent on the platform: sent now, so a refusal can be told in this reply.
        result = await ctx.act_now(A.Pin(chat=ctx.chat, message_id=target, notify=not (words & QUIET)))
        if not result.ok:
            await ctx.reply(self.refused(ctx, result, "tools.pin_failed"))
        else:
            await self.done(ctx, "tools.pinned")

    async def unpin_cmd(self, ctx: Context, _args: object) -> None:
        target = replied_id(ctx)
        if target is None:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.unpin.usage")), ephemeral=True)
            return
        result = await ctx.act_now(A.Pin(chat=ctx.chat, message_id=target, pinned=False))
        if not result.ok:
            await ctx.reply(self.refused(ctx, result, "tools.unpin_failed"))
        else:
            await self.done(ctx, "tools.unpinned")

    async def del_cmd(self, ctx: Context, _args: object) -> None:
        target = replied_id(ctx)
        event = ctx.event
        if target is None:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.del.usage")), ephemeral=True)
            return
        result = await ctx.act_now(A.Delete(chat=ctx.chat, message_id=target))
        if not result.ok:
            await ctx.reply(self.refused(ctx, result, "tools.del_failed"))
        elif isinstance(event, MessagePosted):
            await ctx.delete(event.message_id)  # the /del itself goes too: nothing is left to read
        else:
            await self.done(ctx, "tools.deleted")

    @staticmethod
    async def done(ctx: Context, key: str) -> None:
        """A native command (a message's Apps menu) is answered, privately; a typed command is not: the
        pin or the deletion shows for itself."""
        if isinstance(ctx.event, CommandInvoked):
            await ctx.reply(ctx.t(key), ephemeral=True)

    async def purge_cmd(self, ctx: Context, args: Args) -> None:
        """Reply /purge: from that message to this one; /purge n: the last n and this one."""
        event = ctx.event
        rest = args.rest.strip()
        count = parse_int(rest, 1, 10**9) if rest else None
        replied = ctx.replied()
        if (replied is None and count is None) or (rest and count is None):
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.purge.usage")), ephemeral=True)
            return
        window = ctx.app.outbox.delete_window(ctx.chat.platform)
        if replied is not None and replied.at is not None and window and replied.at < ctx.now() - window:
            await ctx.reply(ctx.t("tools.purge_too_old", hours=int(window.total_seconds() // 3600)))
            return
        # A reply's range has the same cap as a count (the newest PURGE_MAX); an adapter that deletes in
        # several calls does one per Purge and hands back what is left, each call through the outbox.
        purge = A.Purge(
            chat=ctx.chat,
            until_message_id=getattr(event, "message_id", None),
            from_message_id=replied.message_id if replied is not None else None,
            count=min(count, PURGE_MAX) if count is not None else PURGE_MAX,
            channel=event.channel if event is not None else None,
        )
        result = await ctx.act_now(purge)
        capped_range = result.extra.get("capped") == "1"  # the reply's range held more than the cap
        deleted = _int(result.extra.get("deleted"))
        calls = 1
        while result.ok and result.extra.get("next_until") and calls < PURGE_MAX:
            purge = replace(
                purge, until_message_id=result.extra["next_until"], from_message_id=result.extra.get("next_from")
            )
            result = await ctx.act_now(purge)
            deleted += _int(result.extra.get("deleted"))
            calls += 1
        if not result.ok and not deleted:
            await ctx.reply(self.refused(ctx, result, "tools.purge_failed"))
            return
        capped = (count is not None and count > PURGE_MAX) or bool(capped_range)
        result = A.ActionResult(ok=True, extra={**result.extra, "deleted": str(deleted)})
        # Telegram deletes an id range without saying which ids were there: its figure is the range's size.
        key = "tools.purged_range" if result.extra.get("unconfirmed") == "1" else "tools.purged"
        lines = [ctx.t(key, count=result.extra.get("deleted", "0"))]
        if result.extra.get("too_old", "0") != "0":
            lines.append(ctx.t("tools.purge_kept", count=result.extra["too_old"]))
        if capped:
            lines.append(ctx.t("tools.purge_capped", max=PURGE_MAX))
        await ctx.send("\n".join(lines))  # the command itself is gone: a message of its own, not a reply

    def refused(self, ctx: Context, result: A.ActionResult, key: str) -> str:
        why = {
            A.Failure.FORBIDDEN: "tools.why.rights",
            A.Failure.NOT_FOUND: "tools.why.gone",
        }.get(result.failure or A.Failure.BAD_REQUEST, "tools.why.other")
        return ctx.t(key, why=ctx.t(why))

    # --- trust ---------------------------------------------------------------------------------------

    async def member(self, ctx: Context, rest: str, usage: str) -> Member | None:
        """The member named first, else the author of the replied message; answers when there is none."""
        await ctx.settle()
        tokens = tokenize(rest)
        found: Member | None = None
        if tokens:
            try:
                found = await ctx.resolve_member(parse_mention(tokens[0].text))
            except ValueError:
                found = None
            if found is None:
                await ctx.reply(ctx.t("common.member_not_found", who=ctx.named(tokens[0].text)), ephemeral=True)
                return None
        else:
            replied = ctx.replied()
            if replied is not None and replied.user is not None:
                found = await ctx.app.members.get(ctx.group.id, replied.user.user_id)
            if found is None:
                await ctx.reply(ctx.t("common.usage", usage=ctx.t(usage)), ephemeral=True)
        return found

    async def trust_cmd(self, ctx: Context, args: Args) -> None:
        m = await self.member(ctx, args.rest, "cmd.trust.usage")
        if m is None:
            return
        assert ctx.event is not None
        added = await TrustRepo(ctx.app.db).trust(ctx.group.id, m.user_id, ctx.event.user.name, ctx.now_ms())
        key = "tools.trusted" if added else "tools.trusted_already"
        if added:
            await ctx.app.emit(ctx, "trust.changed", user_id=m.user_id)
        await ctx.reply(ctx.t(key, who=mention(m.user_id, m.name or m.user_id)))

    async def untrust_cmd(self, ctx: Context, args: Args) -> None:
        m = await self.member(ctx, args.rest, "cmd.untrust.usage")
        if m is None:
            return
        removed = await TrustRepo(ctx.app.db).untrust(ctx.group.id, m.user_id)
        key = "tools.untrusted" if removed else "tools.not_trusted"
        if removed:
            await ctx.app.emit(ctx, "trust.changed", user_id=m.user_id)
        await ctx.reply(ctx.t(key, who=m.name or m.user_id))

    async def trusted_cmd(self, ctx: Context, _args: object) -> None:
        listed = await TrustRepo(ctx.app.db).listed(ctx.group.id)
        if not listed:
            await ctx.reply(ctx.t("tools.trusted_none"))
            return
        names = ctx.join((name or uid)[:40] for uid, name in listed)
        await ctx.reply(ctx.t("tools.trusted_list", count=len(listed), names=names))
