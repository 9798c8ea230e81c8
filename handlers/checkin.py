"""Daily check-in (签到/打卡): once per calendar day in the group's timezone, streaks, a reward ladder.

The check-in row, the streak and the ledger award are one transaction; the ledger's cause is
"checkin:<group>:<member>:<day>", so a redelivered or concurrent check-in can never pay twice.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from bot import actions as A
from bot.actions import Button, Keyboard, keyboard
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import ButtonPressed
from bot.feature import Feature, JobFunc
from bot.markup import mention
from config.group_settings import CheckinSettings
from handlers.points import Paid, level_up
from storage.jobs import JobRecord
from storage.points import InsufficientPoints, PointsRepo, award

if TYPE_CHECKING:
    from bot.app import App

STREAK_BOARD = 10
AT_RISK_STREAK = 3  # streaks this long are worth a reminder
REMIND_MENTIONS = 30
REMIND_JOB_ID = "system:checkin-remind"


class _Refused(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


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
            CommandSpec("remind", self.remind, RemindArgs, aliases=("提醒",), feature=self.name),
            CommandSpec("makeup", self.makeup, aliases=("bq",), triggers=("补签",), feature=self.name),
        ]

    async def checkin(self, ctx: Context, _args: object) -> None:
        assert ctx.event is not None
        s = ctx.settings.checkin
        if not s.enabled:
            await ctx.reply(ctx.t("checkin.disabled"), ephemeral=True)
            return
        user_id, gid = ctx.event.user.user_id, ctx.group.id
        today = date.fromisoformat(ctx.today())
        day = today.isoformat()
        yesterday, two_days_ago = (
            (today - timedelta(days=1)).isoformat(),
            (today - timedelta(days=2)).isoformat(),
        )
        repo = PointsRepo(ctx.app.db)
        used_freeze = False
        async with ctx.app.db.transaction() as tx:
            # The row for today is the lock: a second check-in (even a concurrent one) inserts nothing.
            first = await tx.execute_rowcount(
                "INSERT INTO checkins (group_id, user_id, day, at, streak, points, rank) VALUES (?, ?, ?, ?, 0, 0, 0) "
                "ON CONFLICT (group_id, day, user_id) DO NOTHING",
                gid,
                user_id,
                day,
                ctx.now_ms(),
            )
            if not first:
                done = await tx.fetchone(
                    "SELECT streak FROM checkins WHERE group_id = ? AND day = ? AND user_id = ?",
                    gid,
                    day,
                    user_id,
                )
            else:
                row = await tx.fetchone(
                    "SELECT last_day, streak, best FROM checkin_streaks WHERE group_id = ? AND user_id = ?",
                    gid,
                    user_id,
                )
                streak = 1
                if row is not None and row["last_day"] == yesterday:
                    streak = int(row["streak"]) + 1
                elif row is not None and row["last_day"] == two_days_ago:
                    # One missed day: a streak freeze bought in the shop keeps the streak alive.
                    used_freeze = bool(
                        await tx.execute_rowcount(
                            "UPDATE checkin_prefs SET freezes = freezes - 1 WHERE group_id = ? AND user_id = ? "
                            "AND freezes > 0",
                            gid,
                            user_id,
                        )
                    )
                    if used_freeze:
                        streak = int(row["streak"]) + 1
                best = max(streak, int(row["best"]) if row is not None else 0)
                points = reward(s, streak)
                rank = int(
                    await tx.fetchval(
                        "INSERT INTO checkin_day_counts (group_id, day, n) VALUES (?, ?, 1) ON CONFLICT (group_id, day) "
                        "DO UPDATE SET n = checkin_day_counts.n + 1 RETURNING n",
                        gid,
                        day,
                    )
                )
                await tx.execute(
                    "UPDATE checkins SET streak = ?, points = ?, rank = ? WHERE group_id = ? AND day = ? AND user_id = ?",
                    streak,
                    points,
                    rank,
                    gid,
                    day,
                    user_id,
                )
                await tx.execute(
                    "INSERT INTO checkin_streaks (group_id, user_id, last_day, streak, best) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (group_id, user_id) DO UPDATE SET last_day = excluded.last_day, "
                    "streak = excluded.streak, best = excluded.best",
                    gid,
                    user_id,
                    day,
                    streak,
                    best,
                )
                before = await repo.balance(gid, user_id, tx)
                await award(
                    tx,
                    gid,
                    user_id,
                    points,
                    reason="checkin",
                    source_key=f"checkin:{gid}:{user_id}:{day}",
                    actor=user_id,
                    at_ms=ctx.now_ms(),
                    day=day,
                )
                after = await repo.balance(gid, user_id, tx)
        pressed = isinstance(ctx.event, ButtonPressed)
        if not first:
            already = ctx.t("checkin.already", streak=int(done["streak"]) if done else 1)
            if pressed:
                await ctx.answer_button(already, alert=True)
            else:
                await ctx.reply(already, ephemeral=True)
            return
        # What the check-in causes (a newcomer task and its points, a level, a badge) rides in its reply,
        # and the balance shown is the one after all of it.
        async with ctx.gathering() as consequences:
            await level_up(ctx, user_id, Paid(True, after.balance, before.earned, after.earned))
            await ctx.app.emit(ctx, "checkin.done", user_id=user_id, streak=streak, rank=rank)
        balance = (await repo.balance(gid, user_id)).balance if consequences else after.balance
        key = "checkin.done_bonus" if streak in (7, 30) else "checkin.done"
        text = ctx.t(key, points=points, streak=streak, rank=rank, balance=balance)
        if used_freeze:
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
        today = date.fromisoformat(ctx.today())
        day, yesterday, before = (today - timedelta(days=n) for n in (0, 1, 2))
        month = day.isoformat()[:7]
        if not s.enabled or s.makeup_per_month == 0:
            await ctx.reply(ctx.t("checkin.makeup_off"), ephemeral=True)
            return
        try:
            async with ctx.app.db.transaction() as tx:
                used = int(
                    await tx.fetchval(
                        "SELECT COUNT(*) FROM checkins WHERE group_id = ? AND user_id = ? AND makeup = 1 AND day LIKE ?",
                        gid,
                        user_id,
                        month + "%",
                    )
                )
                if used >= s.makeup_per_month:
                    raise _Refused("checkin.makeup_limit")
                prior = await tx.fetchval(
                    "SELECT streak FROM checkins WHERE group_id = ? AND user_id = ? AND day = ?",
                    gid,
                    user_id,
                    before.isoformat(),
                )
                streak = int(prior or 0) + 1
                inserted = await tx.execute_rowcount(
                    "INSERT INTO checkins (group_id, user_id, day, at, streak, points, rank, makeup) "
                    "VALUES (?, ?, ?, ?, ?, 0, 0, 1) ON CONFLICT (group_id, day, user_id) DO NOTHING",
                    gid,
                    user_id,
                    yesterday.isoformat(),
                    ctx.now_ms(),
                    streak,
                )
                if not inserted:
                    raise _Refused("checkin.makeup_not_needed")
                if s.makeup_cost:
                    await award(
                        tx,
                        gid,
                        user_id,
                        -s.makeup_cost,
                        reason="makeup",
                        actor=user_id,
                        source_key=f"makeup:{gid}:{user_id}:{yesterday.isoformat()}",
                        at_ms=ctx.now_ms(),
                        day=day.isoformat(),
                    )
                last_day = yesterday.isoformat()
                if await tx.execute_rowcount(  # already checked in today: today's streak grows with it
                    "UPDATE checkins SET streak = ? WHERE group_id = ? AND user_id = ? AND day = ?",
                    streak + 1,
                    gid,
                    user_id,
                    day.isoformat(),
                ):
                    streak, last_day = streak + 1, day.isoformat()
                await tx.execute(
                    "INSERT INTO checkin_streaks (group_id, user_id, last_day, streak, best) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (group_id, user_id) DO UPDATE SET last_day = excluded.last_day, "
                    "streak = excluded.streak, best = CASE WHEN excluded.best > checkin_streaks.best "
                    "THEN excluded.best ELSE checkin_streaks.best END",
                    gid,
                    user_id,
                    last_day,
                    streak,
                    streak,
                )
        except _Refused as refused:
            await ctx.reply(ctx.t(refused.key, limit=s.makeup_per_month), ephemeral=True)
            return
        except InsufficientPoints:
            await ctx.reply(ctx.t("checkin.makeup_poor", cost=s.makeup_cost), ephemeral=True)
            return
        await ctx.reply(
            ctx.t(
                "checkin.makeup_done", cost=s.makeup_cost, streak=streak, left=s.makeup_per_month - used - 1
            )
        )

    async def remind(self, ctx: Context, args: RemindArgs) -> None:
        assert ctx.event is not None
        choice = (args.choice or "").lower()
        if choice not in ("on", "off"):
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.remind.usage")), ephemeral=True)
            return
        await ctx.app.db.execute(
            "INSERT INTO checkin_prefs (group_id, user_id, remind) VALUES (?, ?, ?) "
            "ON CONFLICT (group_id, user_id) DO UPDATE SET remind = excluded.remind",
            ctx.group.id,
            ctx.event.user.user_id,
            int(choice == "on"),
        )
        await ctx.reply(
            ctx.t(f"checkin.remind_{choice}", hour=ctx.settings.checkin.reminder_hour), ephemeral=True
        )

    # --- streak protection: the evening reminder -----------------------------------------------------

    def jobs(self) -> dict[str, JobFunc]:
        return {"remind_sweep": self.remind_sweep}

    async def on_start(self, app: App) -> None:
        await app.scheduler.ensure(
            JobRecord(REMIND_JOB_ID, f"{self.name}.remind_sweep", "cron", {"minute": 0, "timezone": "UTC"})
        )

    async def remind_sweep(self, app: App, _ctx: Context | None, _job: JobRecord) -> None:
        """Every hour: groups whose reminder hour it now is remind members whose streak (3+) is at risk."""
        rows = await app.db.fetchall("SELECT DISTINCT group_id FROM checkin_prefs WHERE remind = 1")
        for row in rows:
            ctx = await app.context_for_group(int(row["group_id"]))
            if ctx is None or not ctx.settings.checkin.enabled:
                continue
            if ctx.now().astimezone(ctx.zone).hour != ctx.settings.checkin.reminder_hour:
                continue
            await self.remind_group(ctx)

    async def remind_group(self, ctx: Context) -> None:
        today = date.fromisoformat(ctx.today())
        yesterday = (today - timedelta(days=1)).isoformat()
        at_risk = await ctx.app.db.fetchall(
            "SELECT s.user_id, s.streak FROM checkin_streaks s JOIN checkin_prefs p "
            "ON p.group_id = s.group_id AND p.user_id = s.user_id "
            "WHERE s.group_id = ? AND p.remind = 1 AND s.last_day = ? AND s.streak >= ? ORDER BY s.user_id",
            ctx.group.id,
            yesterday,
            AT_RISK_STREAK,
        )
        in_group = []
        for r in at_risk:
            user_id, streak = r["user_id"], int(r["streak"])
            member = await ctx.app.members.get(ctx.group.id, user_id)
            who = mention(user_id, member.name if member else user_id)
            if await ctx.app.dms.can_dm(ctx.group.platform, user_id):
                # A refused DM (closed since) becomes this member's own reminder in the group.
                fallback = A.Send(
                    chat=ctx.chat,
                    text=ctx.t("checkin.reminder_group", mentions=who),
                    buttons=self.button(ctx),
                )
                text = ctx.t("checkin.reminder_dm", streak=streak, group=ctx.group.title)
                await ctx.dm(user_id, text, fallback=fallback)
                continue
            in_group.append(who)
        if in_group:
            await ctx.send(
                ctx.t("checkin.reminder_group", mentions=" ".join(in_group[:REMIND_MENTIONS])),
                self.button(ctx),
            )

    async def streaks(self, ctx: Context, _args: object) -> None:
        today = date.fromisoformat(ctx.today())
        yesterday = (today - timedelta(days=1)).isoformat()
        rows = await ctx.app.db.fetchall(
            "SELECT user_id, streak FROM checkin_streaks WHERE group_id = ? AND last_day >= ? "
            "AND user_id NOT IN (SELECT user_id FROM members WHERE group_id = ? AND left_at IS NOT NULL) "
            "ORDER BY streak DESC, user_id LIMIT ?",
            ctx.group.id,
            yesterday,
            ctx.group.id,
            STREAK_BOARD,
        )
        if not rows:
            await ctx.reply(ctx.t("checkin.streaks_empty"))
            return
        lines = [ctx.t("checkin.streaks_title")]
        for i, row in enumerate(rows, 1):
            member = await ctx.app.members.get(ctx.group.id, row["user_id"])
            lines.append(
                ctx.t(
                    "checkin.streaks_line",
                    rank=i,
                    name=member.name if member else row["user_id"],
                    streak=int(row["streak"]),
                )
            )
        await ctx.reply("\n".join(lines))
