"""Daily check-in (签到/打卡): once per calendar day in the group's timezone, streaks, a reward ladder.

The check-in row, the streak and the ledger award are one transaction; the ledger's cause is
"checkin:<group>:<member>:<day>", so a redelivered or concurrent check-in can never pay twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from bot import actions as A
from bot.actions import Button, Keyboard, keyboard
from bot.clock import to_ms
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import ButtonPressed
from bot.feature import Feature, JobFunc
from bot.markup import mention
from bot.native import OnOff
from config.group_settings import CheckinSettings
from handlers.points import Paid, level_up
from storage.checkins import AlreadyCheckedIn, CheckinRepo, MakeupRefused
from storage.jobs import JobRecord
from storage.points import InsufficientPoints, PointsRepo

if TYPE_CHECKING:
    from bot.app import App

STREAK_BOARD = 10
AT_RISK_STREAK = 3  # streaks this long are worth a reminder
REMIND_MENTIONS = 30
REMIND_JOB_ID = "system:checkin-remind"


class RemindArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    choice: str | None = None


def reward(s: CheckinSettings, streak: int) -> int:
    """Base, plus a step per consecutive day (capped), plus the day-7 and day-30 bonuses."""
    points = s.base_points + min(s.streak_step * (streak - 1), s.streak_cap)
    if streak == 7:
        points += s.bonus_day7
    if streak == 30:
        points += s.bonus_day30
    return points


class CheckinFeature(Feature):
    name = "checkin"
    settings_section = "checkin"
    button_prefix = "checkin"
    priority = 65

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "checkin",
                self.checkin,
                aliases=("qd",),
                triggers=("签到", "打卡", "checkin"),
                feature=self.name,
            ),
            CommandSpec("streaks", self.streaks, aliases=("连签",), triggers=("连签榜",), feature=self.name),
            CommandSpec(
                "remind", self.remind, RemindArgs, aliases=("提醒",), feature=self.name, native_args=OnOff
            ),
            CommandSpec("makeup", self.makeup, aliases=("bq",), triggers=("补签",), feature=self.name),
        ]

    async def checkin(self, ctx: Context, _args: object) -> None:
        assert ctx.event is not None
        s = ctx.settings.checkin
        if not s.enabled:
            await ctx.reply(ctx.t("checkin.disabled"), ephemeral=True)
            return
        user_id, gid = ctx.event.user.user_id, ctx.group.id
        pressed = isinstance(ctx.event, ButtonPressed)
        try:
            done = await CheckinRepo(ctx.app.db).check_in(
                gid, user_id, ctx.today(), ctx.now_ms(), lambda streak: reward(s, streak)
            )
        except AlreadyCheckedIn as already:
            text = ctx.t("checkin.already", streak=already.streak)
            if pressed:
                await ctx.answer_button(text, alert=True)
            else:
                await ctx.reply(text, ephemeral=True)
            return
        streak, rank, points = done.streak, done.rank, done.points
        # What the check-in causes (a newcomer task and its points, a level, a badge) rides in its reply,
        # and the balance shown is the one after all of it.
        async with ctx.gathering() as consequences:
            await level_up(
                ctx, user_id, Paid(True, done.balance.balance, done.earned_before, done.balance.earned)
            )
            await ctx.app.emit(ctx, "checkin.done", user_id=user_id, streak=streak, rank=rank)
        balance = (
            (await PointsRepo(ctx.app.db).balance(gid, user_id)).balance
            if consequences
            else done.balance.balance
        )
        key = "checkin.done_bonus" if streak in (7, 30) else "checkin.done"
        text = ctx.t(key, points=points, streak=streak, rank=rank, balance=balance)
        if done.used_freeze:
            text += "\n" + ctx.t("checkin.freeze_used")
        text = "\n".join([text, *consequences])
        if pressed:  # a one-tap check-in answers the presser alone: no noise in the group
            await ctx.answer_button(text[:200], alert=True)
        else:
            await ctx.reply(text, self.button(ctx))

    def button(self, ctx: Context) -> Keyboard:
        """A one-tap check-in for everyone who reads the message."""
        return keyboard([Button(ctx.t("checkin.button"), "checkin:do")])

    async def on_button(self, ctx: Context, event: ButtonPressed, payload: str) -> None:
        if payload == "do":
            await self.checkin(ctx, None)
        else:
            await ctx.answer_button(ctx.t("common.button_expired"))

    async def makeup(self, ctx: Context, _args: object) -> None:
        """补签: check in for yesterday, for points, a few times a month; no reward, but the streak holds."""
        assert ctx.event is not None
        s = ctx.settings.checkin
        user_id, gid = ctx.event.user.user_id, ctx.group.id
        if not s.enabled or s.makeup_per_month == 0:
            await ctx.reply(ctx.t("checkin.makeup_off"), ephemeral=True)
            return
        try:
            made = await CheckinRepo(ctx.app.db).make_up(
                gid, user_id, ctx.today(), ctx.now_ms(), per_month=s.makeup_per_month, cost=s.makeup_cost
            )
        except MakeupRefused as refused:
            await ctx.reply(
                ctx.t(f"checkin.makeup_{refused.reason}", limit=s.makeup_per_month), ephemeral=True
            )
            return
        except InsufficientPoints:
            await ctx.reply(ctx.t("checkin.makeup_poor", cost=s.makeup_cost), ephemeral=True)
            return
        await ctx.reply(
            ctx.t(
                "checkin.makeup_done",
                cost=s.makeup_cost,
                streak=made.streak,
                left=s.makeup_per_month - made.used - 1,
            )
        )

    async def remind(self, ctx: Context, args: RemindArgs) -> None:
        assert ctx.event is not None
        choice = (args.choice or "").lower()
        if choice not in ("on", "off"):
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.remind.usage")), ephemeral=True)
            return
        await CheckinRepo(ctx.app.db).set_remind(ctx.group.id, ctx.event.user.user_id, choice == "on")
        await ctx.app.emit(ctx, "remind.changed", user_id=ctx.event.user.user_id, on=choice == "on")
        await ctx.reply(
            ctx.t(f"checkin.remind_{choice}", hour=ctx.settings.checkin.reminder_hour), ephemeral=True
        )

    async def on_signal(self, ctx: Context, name: str, data: dict[str, Any]) -> None:
        if name == "recall.missed" and data["user_id"] is not None:
            best = await CheckinRepo(ctx.app.db).best_streak(ctx.group.id, data["user_id"])
            if best >= AT_RISK_STREAK:  # a record worth beating again
                data["lines"].append(ctx.t("checkin.missed_best", best=best))

    # --- streak protection: the evening reminder -----------------------------------------------------

    def jobs(self) -> dict[str, JobFunc]:
        return {"remind_sweep": self.remind_sweep}

    async def on_start(self, app: App) -> None:
        await app.scheduler.ensure(
            JobRecord(REMIND_JOB_ID, f"{self.name}.remind_sweep", "cron", {"minute": 0, "timezone": "UTC"})
        )

    async def remind_sweep(self, app: App, _ctx: Context | None, _job: JobRecord) -> None:
        """Every hour: groups whose reminder hour it now is remind members whose streak (3+) is at risk."""
        for group_id in await CheckinRepo(app.db).groups_with_reminders():
            ctx = await app.context_for_group(group_id)
            if ctx is None or not ctx.settings.checkin.enabled:
                continue
            if ctx.now().astimezone(ctx.zone).hour != ctx.settings.checkin.reminder_hour:
                continue
            await self.remind_group(ctx)

    async def on_sent(self, app: App, payload: str, result: A.ActionResult) -> None:
        """A reminder DM's answer: a refusal is remembered, so the next reminder names them in the group."""
        head, _, rest = payload.partition(":")
        if head == "dm":
            platform, _, user_id = rest.partition(":")
            await app.dms.learn(platform, user_id, result, to_ms(app.clock.now()))

    async def remind_group(self, ctx: Context) -> None:
        at_risk = await CheckinRepo(ctx.app.db).at_risk(ctx.group.id, ctx.today(), AT_RISK_STREAK)
        platform = ctx.group.platform
        # By DM where the platform lets the bot try one (Telegram: after /start; Discord: unless refused
        # before); a refusal is remembered and that DM becomes the member's own reminder in the group.
        reachable = await ctx.app.dms.may_dm(ctx.app.outbox, platform, [r.user_id for r in at_risk])
        in_group = []
        for r in at_risk:
            user_id, streak = r.user_id, r.streak
            member = await ctx.app.members.get(ctx.group.id, user_id)
            who = mention(user_id, member.name if member else user_id)
            if user_id in reachable:
                fallback = A.Send(
                    chat=ctx.chat,
                    text=ctx.t("checkin.reminder_group", mentions=who),
                    buttons=self.button(ctx),
                )
                text = ctx.t("checkin.reminder_dm", streak=streak, group=ctx.group.title)
                await ctx.act(
                    A.DirectMessage(chat=ctx.chat, user_id=user_id, text=text, fallback=fallback),
                    remember=f"{self.name}:dm:{platform}:{user_id}",
                )
                continue
            in_group.append(who)
        if in_group:
            await ctx.send(
                ctx.t("checkin.reminder_group", mentions=" ".join(in_group[:REMIND_MENTIONS])),
                self.button(ctx),
            )

    async def streaks(self, ctx: Context, _args: object) -> None:
        rows = await CheckinRepo(ctx.app.db).board(ctx.group.id, ctx.today(), STREAK_BOARD)
        if not rows:
            await ctx.reply(ctx.t("checkin.streaks_empty"))
            return
        lines = [ctx.t("checkin.streaks_title")]
        for i, row in enumerate(rows, 1):
            member = await ctx.app.members.get(ctx.group.id, row.user_id)
            lines.append(
                ctx.t(
                    "checkin.streaks_line",
                    rank=i,
                    name=member.name if member else row.user_id,
                    streak=row.streak,
                )
            )
        await ctx.reply("\n".join(lines))
