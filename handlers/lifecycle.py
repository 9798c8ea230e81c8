"""Member lifecycle (生命周期): 新人 → 活跃 → 沉默 → 流失, counted per stage, with last week's counts beside
them, the silent list, and one member's whole picture for admins (/whois).

The counts are read from the members table when asked; a snapshot is kept each group midnight so
"since last week" compares with what the group really looked like then.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict

from bot.clock import from_ms
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import MessagePosted
from bot.feature import Feature, JobFunc
from bot.i18n import duration
from bot.markup import mention
from bot.native import MemberOnly
from bot.parsing import REST, parse_int, parse_mention, tokenize
from storage.checkins import CheckinRepo
from storage.jobs import JobRecord
from storage.lifecycle import STAGES, Cuts, LifecycleRepo, StageCounts, stage_of
from storage.members import Member
from storage.moderation import ModerationRepo
from storage.points import PointsRepo
from storage.recall import RecallRepo

if TYPE_CHECKING:
    from bot.app import App

DAY_MS = 86_400_000
PAGE = 15
SNAPSHOT_JOB_ID = "system:lifecycle-snapshot"


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rest: Annotated[str, REST] = ""


def cuts(ctx: Context) -> Cuts:
    s, now = ctx.settings.lifecycle, ctx.now_ms()
    return Cuts(now - s.new_days * DAY_MS, now - s.silent_days * DAY_MS, now - s.lost_days * DAY_MS)


class LifecycleFeature(Feature):
    name = "lifecycle"
    settings_section = "lifecycle"
    priority = 90

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "lifecycle", self.lifecycle_cmd, aliases=("生命周期",), admin_only=True, feature=self.name
            ),
            CommandSpec(
                "silent", self.silent_cmd, Args, aliases=("沉默成员",), admin_only=True, feature=self.name
            ),
            CommandSpec(
                "whois",
                self.whois_cmd,
                Args,
                aliases=("查询成员",),
                admin_only=True,
                feature=self.name,
                native_args=MemberOnly,
            ),
        ]

    def jobs(self) -> dict[str, JobFunc]:
        return {"snapshot": self.snapshot_job}

    async def on_start(self, app: App) -> None:
        await app.scheduler.ensure(
            JobRecord(SNAPSHOT_JOB_ID, f"{self.name}.snapshot", "cron", {"minute": 0, "timezone": "UTC"})
        )

    async def snapshot_job(self, app: App, _ctx: Context | None, _job: JobRecord) -> None:
        """Every hour: groups where it is now midnight record how their members stand."""
        for group_id in await app.groups.ids():
            ctx = await app.context_for_group(group_id)
            if ctx is None or ctx.now().astimezone(ctx.zone).hour != 0:
                continue
            repo = LifecycleRepo(app.db)
            await repo.snapshot(group_id, ctx.today(), await repo.counts(group_id, cuts(ctx)))

    # --- /lifecycle ----------------------------------------------------------------------------------

    async def lifecycle_cmd(self, ctx: Context, _args: object) -> None:
        await ctx.settle()
        repo, s = LifecycleRepo(ctx.app.db), ctx.settings.lifecycle
        now = await repo.counts(ctx.group.id, cuts(ctx))
        week_ago = (date.fromisoformat(ctx.today()) - timedelta(days=7)).isoformat()
        before = await repo.snapshot_on(ctx.group.id, week_ago)
        lines = [ctx.t("lifecycle.title", group=ctx.group.title or ctx.group.chat_id)]
        for stage in STAGES:
            lines.append(
                ctx.t(
                    "lifecycle.line",
                    stage=ctx.t(f"lifecycle.stage.{stage}"),
                    count=now.get(stage),
                    change=self.change(ctx, now, before, stage),
                )
            )
        lines.append(ctx.t("lifecycle.thresholds", new=s.new_days, silent=s.silent_days, lost=s.lost_days))
        if before is None:
            lines.append(ctx.t("lifecycle.no_history"))
        if now.silent:
            lines.append(ctx.t("lifecycle.hint_silent"))
        await ctx.reply("\n".join(lines))

    def change(self, ctx: Context, now: StageCounts, before: StageCounts | None, stage: str) -> str:
        if before is None:
            return ""
        delta = now.get(stage) - before.get(stage)
        return ctx.t("lifecycle.change", delta=f"{delta:+d}" if delta else "±0")

    # --- /silent -------------------------------------------------------------------------------------

    async def silent_cmd(self, ctx: Context, args: Args) -> None:
        rest = args.rest.strip()
        page = parse_int(rest, 1, 10_000) if rest else 1
        if page is None:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.silent.usage")), ephemeral=True)
            return
        await ctx.settle()
        found, total = await LifecycleRepo(ctx.app.db).silent(
            ctx.group.id, cuts(ctx), PAGE, (page - 1) * PAGE
        )
        if not found:
            key = "lifecycle.silent_empty" if page == 1 else "lifecycle.page_empty"
            await ctx.reply(ctx.t(key, days=ctx.settings.lifecycle.silent_days))
            return
        pages = -(-total // PAGE)
        lines = [ctx.t("lifecycle.silent_title", count=total, days=ctx.settings.lifecycle.silent_days)]
        for i, m in enumerate(found, (page - 1) * PAGE + 1):
            lines.append(
                ctx.t("lifecycle.silent_line", n=i, name=self.who(m), ago=self.ago(ctx, m.last_seen_ms))
            )
        if pages > 1:
            lines.append(ctx.t("lifecycle.page", page=page, pages=pages, next=page % pages + 1))
        await ctx.reply("\n".join(lines))

    def who(self, m: Member) -> str:
        """A member's name for a list: plain text, never a ping (the list is for admins to read)."""
        return m.name or (f"@{m.username}" if m.username else m.user_id)

    def ago(self, ctx: Context, at_ms: int) -> str:
        return ctx.t(
            "lifecycle.ago", time=duration(ctx.lang, timedelta(milliseconds=max(0, ctx.now_ms() - at_ms)))
        )

    def when(self, ctx: Context, at_ms: int) -> str:
        return from_ms(at_ms).astimezone(ctx.zone).strftime("%Y-%m-%d %H:%M")

    # --- /whois --------------------------------------------------------------------------------------

    async def whois_cmd(self, ctx: Context, args: Args) -> None:
        member = await self.target(ctx, args.rest)
        if member is None:
            tokens = tokenize(args.rest)
            named = tokens[0].text if tokens else None
            text = (
                ctx.t("common.member_not_found", who=ctx.named(named))
                if named
                else ctx.t("common.usage", usage=ctx.t("cmd.whois.usage"))
            )
            await ctx.reply(text, ephemeral=True)
            return
        gid, uid = ctx.group.id, member.user_id
        stage = stage_of(member, cuts(ctx))
        balance = await PointsRepo(ctx.app.db).balance(gid, uid)
        streak = await CheckinRepo(ctx.app.db).current_streak(gid, uid, ctx.today())
        expiry = ctx.settings.moderation.warn_expiry_days
        warnings = await ModerationRepo(ctx.app.db).live_warnings(gid, uid, ctx.now_ms() - expiry * DAY_MS)
        joined = member.joined_ms if member.joined_ms is not None else member.first_seen_ms
        lines = [
            ctx.t("lifecycle.whois_title", who=mention(uid, member.name or uid), stage=ctx.t(f"lifecycle.stage.{stage}")),
            ctx.t("lifecycle.whois_joined" if member.joined_ms is not None else "lifecycle.whois_first_seen",
                  when=self.when(ctx, joined), ago=self.ago(ctx, joined)),
            ctx.t("lifecycle.whois_seen", when=self.when(ctx, member.last_seen_ms), ago=self.ago(ctx, member.last_seen_ms)),
            ctx.t("lifecycle.whois_points", balance=balance.balance, earned=balance.earned, messages=member.message_count),
            ctx.t("lifecycle.whois_streak", streak=streak),
            ctx.t("lifecycle.whois_warnings", count=len(warnings), days=expiry),
        ]  # fmt: skip
        if member.left_ms is not None:
            lines.append(ctx.t("lifecycle.whois_left", when=self.when(ctx, member.left_ms)))
        recall = RecallRepo(ctx.app.db)
        last = await recall.last_nudge(gid, uid)
        if last is not None:
            outcome = "returned" if last.returned_at is not None else last.status
            lines.append(
                ctx.t(
                    "lifecycle.whois_nudge",
                    day=last.day,
                    arm=ctx.t(f"recall.arm.{last.arm}"),
                    outcome=ctx.t(f"recall.outcome.{outcome}"),
                )
            )
        if await recall.opted_out(gid, uid):
            lines.append(ctx.t("lifecycle.whois_optout"))
        await ctx.reply("\n".join(lines))

    async def target(self, ctx: Context, rest: str) -> Member | None:
        """An @mention or id in the arguments, else the author of the message replied to."""
        await ctx.settle()
        tokens = tokenize(rest)
        if tokens:
            try:
                ref = parse_mention(tokens[0].text)
            except ValueError:
                return None
            return await ctx.resolve_member(ref)
        event = ctx.event
        if isinstance(event, MessagePosted) and event.replied is not None and event.replied.user is not None:
            return await ctx.app.members.get(ctx.group.id, event.replied.user.user_id)
        return None
