"""Badges (勋章): earned once by rule, from what members really did, and shown in /me."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.context import Context
from bot.feature import Feature, JobFunc
from bot.markup import mention
from storage.badges import BadgeRepo
from storage.jobs import JobRecord
from storage.points import PointsRepo

if TYPE_CHECKING:
    from bot.app import App

EARLY_BIRD_TIMES = 10
MONTHLY_JOB_ID = "system:monthly-badges"


async def badges_of(ctx: Context, user_id: str) -> list[str]:
    return await BadgeRepo(ctx.app.db).of(ctx.group.id, user_id)


class BadgesFeature(Feature):
    name = "badges"
    priority = 80

    def jobs(self) -> dict[str, JobFunc]:
        return {"monthly": self.monthly}

    async def on_start(self, app: App) -> None:
        await app.scheduler.ensure(
            JobRecord(MONTHLY_JOB_ID, f"{self.name}.monthly", "cron", {"minute": 5, "timezone": "UTC"})
        )

    async def monthly(self, app: App, _ctx: Context | None, _job: JobRecord) -> None:
        """Hourly: a group whose month just began (00:xx on the 1st, its own time) crowns last month's top 3."""
        for group_id in await app.groups.ids():
            ctx = await app.context_for_group(group_id)
            if ctx is None:
                continue
            local = ctx.now().astimezone(ctx.zone)
            if local.day != 1 or local.hour != 0:
                continue
            last_month = (local.date() - timedelta(days=1)).isoformat()[:7]
            for user_id, _points in await PointsRepo(app.db).top(ctx.group.id, f"m:{last_month}", 3):
                await self.grant(ctx, user_id, "monthly_top3")

    async def grant(self, ctx: Context, user_id: str, badge: str) -> None:
        if await BadgeRepo(ctx.app.db).grant(ctx.group.id, user_id, badge, ctx.now_ms()):
            member = await ctx.app.members.get(ctx.group.id, user_id)
            await ctx.announce(
                ctx.t(
                    "badges.earned",
                    mention=mention(user_id, member.name if member else user_id),
                    badge=ctx.t(f"badges.name.{badge}"),
                )
            )
            await ctx.app.emit(ctx, "badges.earned", user_id=user_id, badge=badge)

    async def on_signal(self, ctx: Context, name: str, data: dict[str, Any]) -> None:
        if name != "checkin.done":
            return
        user_id, streak = data["user_id"], int(data["streak"])
        if streak >= 7:
            await self.grant(ctx, user_id, "streak7")
        if streak >= 30:
            await self.grant(ctx, user_id, "streak30")
        if data.get("rank") == 1:
            if await BadgeRepo(ctx.app.db).first_checkins(ctx.group.id, user_id) >= EARLY_BIRD_TIMES:
                await self.grant(ctx, user_id, "early_bird")
