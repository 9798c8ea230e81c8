"""Points: earning for messages (with anti-farming) and onboarding tasks, admin grants, levels, /me, /top.

Every change is one ledger row whose cause (an event key) is unique, committed before the bot says
anything about it; balances and per-day earnings are updated in the same transaction.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bot.commands import CommandSpec
from bot.context import Context
from bot.events import MessagePosted
from bot.feature import Feature
from bot.markup import mention
from bot.parsing import REST, Integer, MemberArg
from config.group_settings import DEFAULT_LEVEL_COUNT
from handlers.badges import badges_of
from storage.checkins import CheckinRepo
from storage.points import Award, InsufficientPoints, PointsRepo, award, periods

MAX_GRANT = 1_000_000
BOARD_SIZE = 10
MAX_PAGES = 1000  # /top pages: the board stops there (10,000 places)
COUNTED_PAGES = 100  # the page count is exact up to here (or up to the page asked for), then "100+"
RANK_CAP = 1000  # a rank beyond this is shown as "1000+": counting further would walk the board


def shown_rank(rank: int) -> int | str:
    return f"{RANK_CAP}+" if rank > RANK_CAP else rank


_MEMBER_MEMORY = 50_000


def thresholds(ctx: Context) -> list[int]:
    """Lifetime-earned points at which each level starts (the group's `points.levels`)."""
    return [int(n) for n in ctx.settings.points.levels.split(",")]


def level_name(ctx: Context, level: int) -> str:
    custom = ctx.settings.points.level_names
    if custom:
        return custom.split(",")[level]
    return ctx.t(f"points.level.{level}") if level < DEFAULT_LEVEL_COUNT else f"Lv.{level + 1}"


def level_of(earned: int, levels: list[int]) -> int:
    return max(i for i, threshold in enumerate(levels) if earned >= threshold)


def progress_bar(earned: int, levels: list[int], width: int = 10) -> str:
    lv = level_of(earned, levels)
    if lv + 1 >= len(levels):
        return "▰" * width
    lo, hi = levels[lv], levels[lv + 1]
    filled = int(width * (earned - lo) / (hi - lo))
    return "▰" * filled + "▱" * (width - filled) + f" {earned}/{hi}"


@dataclass(frozen=True, slots=True)
class Paid:
    paid: bool  # False: this cause was already paid (a redelivery)
    balance: int
    earned_before: int
    earned_after: int


async def pay(ctx: Context, user_id: str, delta: int, *, reason: str, source_key: str) -> Paid:
    """One award in its own transaction, then a level-up announcement if it crossed a threshold."""
    actor = ctx.event.user.user_id if ctx.event is not None else None
    async with ctx.app.db.transaction() as tx:
        after = await award(
            tx,
            ctx.group.id,
            user_id,
            delta,
            reason=reason,
            source_key=source_key,
            actor=actor,
            at_ms=ctx.now_ms(),
            day=ctx.today(),
        )
        if after is None:  # a redelivery: report the balance as it stands
            now = await PointsRepo(ctx.app.db).balance(ctx.group.id, user_id, tx)
            return Paid(False, now.balance, now.earned, now.earned)
    before_earned = after.earned - (delta if delta > 0 else 0)
    result = Paid(True, after.balance, before_earned, after.earned)
    await level_up(ctx, user_id, result)
    return result


async def level_up(ctx: Context, user_id: str, paid: Paid) -> None:
    levels = thresholds(ctx)
    old, new = level_of(paid.earned_before, levels), level_of(paid.earned_after, levels)
    if new <= old:
        return
    member = await ctx.app.members.get(ctx.group.id, user_id)
    name = member.name if member else user_id
    level = level_name(ctx, new)
    await ctx.announce(ctx.t("points.level_up", mention=mention(user_id, name), level=level))
    await ctx.grant_role(user_id, level)  # Discord: the role named like the level, if the server has one


def _period(value: Any) -> Any:
    aliases = {
        "日": "day",
        "今日": "day",
        "今天": "day",
        "周": "week",
        "本周": "week",
        "月": "month",
        "本月": "month",
        "总": "all",
        "全部": "all",
        "总榜": "all",
    }
    return aliases.get(value, value.lower()) if isinstance(value, str) else value


class TopArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: Annotated[Literal["day", "week", "month", "all"], BeforeValidator(_period)] = "all"
    page: Annotated[Integer, Field(ge=1, le=MAX_PAGES)] = 1


class PointsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["give", "take"]
    member: MemberArg
    amount: Integer
    reason: Annotated[str, REST] = ""


def period_key(today: date, period: str) -> str | None:
    """The ledger's period key for a /top window (see storage.points.periods); None = all time."""
    if period == "all":
        return None
    day, week, month = periods(today.isoformat())
    return {"day": day, "week": week, "month": month}[period]


class PointsFeature(Feature):
    name = "points"
    settings_section = "points"
    priority = 70

    def __init__(self) -> None:
        # (group, member) -> (when their last message was paid, lifetime earned as this process knows
        # it). The figure only lags the truth (grants and check-ins do not update it), so it can ask
        # for a needless exact look, never skip a level.
        self._members: OrderedDict[tuple[int, str], tuple[int, int]] = OrderedDict()

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec("me", self.me, aliases=("我的",), triggers=("我的积分",), feature=self.name),
            CommandSpec("top", self.top, TopArgs, aliases=("排行",), triggers=("排行榜",), feature=self.name),
            CommandSpec(
                "points", self.points_cmd, PointsArgs, admin_only=True, aliases=("积分",), feature=self.name
            ),
        ]

    # --- earning -------------------------------------------------------------------------------------

    async def on_message(self, ctx: Context, event: MessagePosted) -> bool:
        s = ctx.settings.points
        if not s.enabled or not s.per_message or event.edited:
            return False
        text = event.text.strip()
        if text.startswith(("/", "／")) or len("".join(text.split())) < s.message_min_length:
            return False
        key = (ctx.group.id, event.user.user_id)
        now = ctx.now_ms()
        known = self._members.get(key)
        if known is not None and now - known[0] < s.message_cooldown_seconds * 1000:
            return False  # anti-farming: one paid message per cooldown
        if known is None:  # once per member per process: what they have earned, to see a level coming
            earned = (await PointsRepo(ctx.app.db).balance(ctx.group.id, event.user.user_id)).earned
        else:
            earned = known[1]
        levels = thresholds(ctx)
        if level_of(earned + s.per_message, levels) > level_of(earned, levels):
            # A level is reached (or this process's figure is stale): a unit of its own, which reads the
            # real figures and announces the level only if it really was crossed.
            paid = await pay(
                ctx, event.user.user_id, s.per_message, reason="message", source_key=event.event_key
            )
            earned = paid.earned_after
        else:
            # The common case rides the activity batch: no transaction, no round trip of its own.
            await ctx.app.writer.award(
                Award(
                    ctx.group.id,
                    event.user.user_id,
                    s.per_message,
                    "message",
                    event.event_key,
                    now,
                    ctx.today(),
                )
            )
            earned += s.per_message
        self._members[key] = (now, earned)
        self._members.move_to_end(key)
        if len(self._members) > _MEMBER_MEMORY:
            self._members.popitem(last=False)
        return False

    async def on_signal(self, ctx: Context, name: str, data: dict[str, Any]) -> None:
        s = ctx.settings.points
        if name == "onboarding.task_done" and s.enabled and s.task_points:
            user_id, task = data["user_id"], data["task"]
            await pay(
                ctx,
                user_id,
                s.task_points,
                reason=f"task:{task}",
                source_key=f"onboarding:{ctx.group.id}:{user_id}:{task}",
            )

    # --- commands ------------------------------------------------------------------------------------

    async def me(self, ctx: Context, _args: object) -> None:
        assert ctx.event is not None
        user_id = ctx.event.user.user_id
        repo = PointsRepo(ctx.app.db)
        bal = await repo.balance(ctx.group.id, user_id)
        rank = await repo.rank(ctx.group.id, user_id, None, RANK_CAP)
        current = await CheckinRepo(ctx.app.db).current_streak(ctx.group.id, user_id, ctx.today())
        lines = [
            ctx.t("points.me_title", name=ctx.event.user.name),
            ctx.t("points.me_balance", balance=bal.balance, earned=bal.earned),
            ctx.t(
                "points.me_level",
                level=level_name(ctx, level_of(bal.earned, thresholds(ctx))),
                bar=progress_bar(bal.earned, thresholds(ctx)),
            ),
            ctx.t("points.me_streak", streak=current),
            ctx.t("points.me_rank", rank=shown_rank(rank[0])) if rank else ctx.t("points.me_unranked"),
        ]
        earned_badges = await badges_of(ctx, user_id)
        if earned_badges:
            lines.append(
                ctx.t("points.me_badges", badges="、".join(ctx.t(f"badges.name.{b}") for b in earned_badges))
            )
        await ctx.reply("\n".join(lines), ephemeral=True)

    async def top(self, ctx: Context, args: TopArgs) -> None:
        assert ctx.event is not None
        since = period_key(date.fromisoformat(ctx.today()), args.period)
        repo = PointsRepo(ctx.app.db)
        # Counting stops just past what this reply needs: the page asked for and whether one follows.
        counted = min(MAX_PAGES, max(COUNTED_PAGES, args.page + 1)) * BOARD_SIZE
        on_board = await repo.ranked(ctx.group.id, since, counted)
        pages = max(1, -(-min(on_board, counted) // BOARD_SIZE))
        page = min(args.page, pages)
        first = (page - 1) * BOARD_SIZE
        board = await repo.top(ctx.group.id, since, BOARD_SIZE, offset=first)
        title = ctx.t("points.top_title", period=ctx.t(f"points.period.{args.period}"))
        if not board:
            await ctx.reply(title + "\n" + ctx.t("points.top_empty"))
            return
        lines = [title]
        for i, (user_id, points) in enumerate(board, first + 1):
            member = await ctx.app.members.get(ctx.group.id, user_id)
            medal = {1: "🥇", 2: "🥈", 3: "🥉"}.get(i, f"{i}.")
            lines.append(f"{medal} {member.name if member else user_id} — {points}")
        me = ctx.event.user.user_id
        if me not in {u for u, _ in board}:  # the caller always sees where they stand
            mine = await repo.rank(ctx.group.id, me, since, RANK_CAP)
            lines.append(
                ctx.t("points.top_you", rank=shown_rank(mine[0]), points=mine[1])
                if mine
                else ctx.t("points.top_you_none")
            )
        if pages > 1:
            lines.append(
                ctx.t(
                    "points.top_page",
                    page=page,
                    pages=f"{pages}+" if on_board > counted else pages,
                    period=args.period,
                    next=page % pages + 1,
                )
            )
        await ctx.reply("\n".join(lines))

    async def points_cmd(self, ctx: Context, args: PointsArgs) -> None:
        assert ctx.event is not None
        if not 1 <= args.amount <= MAX_GRANT:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.points.usage")), ephemeral=True)
            return
        member = await ctx.resolve_member(args.member)
        if member is None:
            await ctx.reply(ctx.t("points.no_member", who=ctx.named(args.member.raw)), ephemeral=True)
            return
        delta = args.amount if args.action == "give" else -args.amount
        reason = f"admin:{args.reason.strip()[:200]}" if args.reason.strip() else "admin"
        try:
            async with ctx.gathering() as consequences:  # a level reached rides in this reply
                paid = await pay(
                    ctx, member.user_id, delta, reason=reason, source_key=f"{ctx.event.event_key}:points"
                )
        except InsufficientPoints:
            bal = await PointsRepo(ctx.app.db).balance(ctx.group.id, member.user_id)
            await ctx.reply(ctx.t("points.not_enough", name=member.name, balance=bal.balance))
            return
        if not paid.paid:  # this very command was carried out before: say so, never claim a new payment
            await ctx.reply(ctx.t("common.already_done"), ephemeral=True)
            return
        key = "points.given" if delta > 0 else "points.taken"
        text = ctx.t(
            key, mention=mention(member.user_id, member.name), amount=args.amount, balance=paid.balance
        )
        await ctx.reply("\n".join([text, *consequences]))
