"""Daily check-in (签到/打卡): once per calendar day in the group's timezone, streaks, a reward ladder.

The check-in row, the streak and the ledger award are one transaction; the ledger's cause is
"checkin:<group>:<member>:<day>", so a redelivered or concurrent check-in can never pay twice.
"""

from __future__ import annotations

from datetime import date, timedelta

from bot.commands import CommandSpec
from bot.context import Context
from bot.feature import Feature
from config.group_settings import CheckinSettings
from handlers.points import Paid, level_up
from storage.points import PointsRepo, award

STREAK_BOARD = 10


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
    priority = 65

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "checkin", self.checkin, aliases=("qd",), triggers=("签到", "打卡"), feature=self.name
            ),
            CommandSpec("streaks", self.streaks, aliases=("连签",), triggers=("连签榜",), feature=self.name),
        ]

    async def checkin(self, ctx: Context, _args: object) -> None:
        assert ctx.event is not None
        s = ctx.settings.checkin
        if not s.enabled:
            await ctx.reply(ctx.t("checkin.disabled"), ephemeral=True)
            return
        user_id, gid = ctx.event.user.user_id, ctx.group.id
        today = date.fromisoformat(ctx.today())
        day, yesterday = today.isoformat(), (today - timedelta(days=1)).isoformat()
        repo = PointsRepo(ctx.app.db)
        async with ctx.app.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT last_day, streak, best FROM checkin_streaks WHERE group_id = ? AND user_id = ?",
                gid,
                user_id,
            )
            streak = int(row["streak"]) + 1 if row is not None and row["last_day"] == yesterday else 1
            best = max(streak, int(row["best"]) if row is not None else 0)
            points = reward(s, streak)
            rank = 1 + int(
                await tx.fetchval("SELECT COUNT(*) FROM checkins WHERE group_id = ? AND day = ?", gid, day)
            )
            # The row for today is the lock: a second check-in (even a concurrent one) inserts nothing.
            first = await tx.execute_rowcount(
                "INSERT INTO checkins (group_id, user_id, day, at, streak, points, rank) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (group_id, day, user_id) DO NOTHING",
                gid,
                user_id,
                day,
                ctx.now_ms(),
                streak,
                points,
                rank,
            )
            done = None
            if not first:
                done = await tx.fetchone(
                    "SELECT streak FROM checkins WHERE group_id = ? AND day = ? AND user_id = ?",
                    gid,
                    day,
                    user_id,
                )
            else:
                rank = int(
                    await tx.fetchval(
                        "INSERT INTO checkin_day_counts (group_id, day, n) VALUES (?, ?, 1) ON CONFLICT (group_id, day) "
                        "DO UPDATE SET n = checkin_day_counts.n + 1 RETURNING n",
                        gid,
                        day,
                    )
                )
                await tx.execute(
                    "UPDATE checkins SET rank = ? WHERE group_id = ? AND day = ? AND user_id = ?",
                    rank,
                    gid,
                    day,
                    user_id,
                )
                before = await repo.balance(gid, user_id, tx)
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
        if not first:
            await ctx.reply(
                ctx.t("checkin.already", streak=int(done["streak"]) if done else 1), ephemeral=True
            )
            return
        key = "checkin.done_bonus" if streak in (7, 30) else "checkin.done"
        await ctx.reply(ctx.t(key, points=points, streak=streak, rank=rank, balance=after.balance))
        await level_up(ctx, user_id, Paid(True, after.balance, before.earned, after.earned))
        await ctx.app.emit(ctx, "checkin.done", user_id=user_id, streak=streak, rank=rank)

    async def streaks(self, ctx: Context, _args: object) -> None:
        today = date.fromisoformat(ctx.today())
        yesterday = (today - timedelta(days=1)).isoformat()
        rows = await ctx.app.db.fetchall(
            "SELECT user_id, streak FROM checkin_streaks WHERE group_id = ? AND last_day >= ? "
            "ORDER BY streak DESC, user_id LIMIT ?",
            ctx.group.id,
            yesterday,
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
