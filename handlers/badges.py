"""Badges (勋章): earned once by rule, from what members really did, and shown in /me."""

from __future__ import annotations

from typing import Any

from bot.context import Context
from bot.feature import Feature
from bot.markup import mention

# badge -> its rule, checked when a check-in happens
EARLY_BIRD_TIMES = 10


async def badges_of(ctx: Context, user_id: str) -> list[str]:
    rows = await ctx.app.db.fetchall(
        "SELECT badge FROM member_badges WHERE group_id = ? AND user_id = ? ORDER BY at, badge",
        ctx.group.id,
        user_id,
    )
    return [r["badge"] for r in rows]


class BadgesFeature(Feature):
    name = "badges"
    priority = 80

    async def grant(self, ctx: Context, user_id: str, badge: str) -> None:
        added = await ctx.app.db.execute_rowcount(
            "INSERT INTO member_badges (group_id, user_id, badge, at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (group_id, user_id, badge) DO NOTHING",
            ctx.group.id,
            user_id,
            badge,
            ctx.now_ms(),
        )
        if added:
            member = await ctx.app.members.get(ctx.group.id, user_id)
            await ctx.send(
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
            firsts = await ctx.app.db.fetchval(
                "SELECT COUNT(*) FROM checkins WHERE group_id = ? AND user_id = ? AND rank = 1",
                ctx.group.id,
                user_id,
            )
            if int(firsts) >= EARLY_BIRD_TIMES:
                await self.grant(ctx, user_id, "early_bird")
