"""Who the automatic checks leave alone: members an admin trusted (/trust) and members whose points
earned reach `moderation.trusted_level`. Moderation, locks and verification on rejoining ask the same
question here; each asks only when it is about to act on the member, so a plain message costs nothing.
"""

from __future__ import annotations

from bot.context import Context
from storage.trust import TrustRepo


async def is_trusted(ctx: Context, user_id: str) -> bool:
    if await TrustRepo(ctx.app.db).is_trusted(ctx.group.id, user_id):
        return True
    level = ctx.settings.moderation.trusted_level
    if not level or not ctx.app.has_feature("points"):
        return False
    from handlers.points import level_of, thresholds  # points imports moderation's neighbours: late
    from storage.points import PointsRepo

    earned = (await PointsRepo(ctx.app.db).balance(ctx.group.id, user_id)).earned
    return level_of(earned, thresholds(ctx)) + 1 >= level
