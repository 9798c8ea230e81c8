"""The redemption shop (积分兑换): admins stock it, members spend points, admins fulfil or cancel.

A redemption is one transaction: the stock is taken with a conditional UPDATE (never below zero, and two
redeems of the last item cannot both win), the points with a ledger row that refuses an overdraft, and
the redemption is recorded. A cancelled redemption refunds through the ledger and restocks.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict

from bot.commands import CommandSpec
from bot.context import Context
from bot.feature import Feature
from bot.i18n import LANGUAGES, t
from bot.markup import mention
from bot.parsing import REST, parse_int, tokenize
from rules.normalize import compact
from storage.db import Database
from storage.points import InsufficientPoints, PointsRepo
from storage.shop import AlreadyRedeemed, Item, ShopRepo, SoldOut

MAX_NAME = 40
MAX_DESCRIPTION = 200
MAX_COST = 10_000_000
MAX_STOCK = 1_000_000
PENDING_SHOWN = 20


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str | None = None
    rest: Annotated[str, REST] = ""


class RedeemArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: Annotated[str, REST]


async def find_items(db: Database, group_id: int, ref: str, *, exact: bool = False) -> list[Item]:
    """The items a member means, among this group's active ones: by the number /shop shows, by exact
    name, else by the start of a name ("京东卡" for "京东卡 50元"), else by a part of one. Several when
    the words fit several (the caller lists them)."""
    ref = ref.strip().removeprefix("#")
    number = parse_int(ref, 1)
    items = await ShopRepo(db).active_items(group_id)
    if number is not None:
        return [i for i in items if i.id == number]
    key = compact(ref)
    if not key:
        return []
    tries = [lambda name: name == key]
    if not exact:
        tries += [lambda name: name.startswith(key), lambda name: key in name]
    for fits in tries:
        found = [i for i in items if fits(compact(i.name))]
        if found:
            return found
    return []


async def find_item(db: Database, group_id: int, ref: str, *, exact: bool = False) -> Item | None:
    """The one item meant, or None (none or several: see `find_items`)."""
    found = await find_items(db, group_id, ref, exact=exact)
    return found[0] if len(found) == 1 else None


def _builtin(key: str) -> set[str]:
    return {t(lang, key) for lang in LANGUAGES}


def shown_name(ctx: Context, item: Item) -> str:
    """A built-in item (the streak freeze) in the group's language, whatever language it was added in;
    an operator's own name as they wrote it."""
    if item.kind == "freeze" and item.name in _builtin("shop.freeze_name"):
        return ctx.t("shop.freeze_name")
    return item.name


def shown_description(ctx: Context, item: Item) -> str:
    if item.kind == "freeze" and item.description in _builtin("shop.freeze_description"):
        return ctx.t("shop.freeze_description")
    return item.description


class ShopFeature(Feature):
    name = "shop"
    priority = 75

    async def on_signal(self, ctx: Context, name: str, data: dict[str, Any]) -> None:
        if name != "recall.missed":
            return
        # A recall nudge: new rewards, the ones this member can afford now when it is one member's.
        user_id, shop = data["user_id"], ShopRepo(ctx.app.db)
        balance = (
            None if user_id is None else (await PointsRepo(ctx.app.db).balance(ctx.group.id, user_id)).balance
        )
        items = await shop.added_since(ctx.group.id, data["since_ms"], balance)
        if items:
            names = ctx.join(f"{i.name} ({i.cost})" for i in items)
            key = "shop.missed_affordable" if balance is not None else "shop.missed_new"
            data["lines"].append(ctx.t(key, items=names, balance=balance or 0))

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "shop", self.shop, Args, aliases=("商城",), triggers=("积分商城",), feature=self.name
            ),
            CommandSpec("redeem", self.redeem, RedeemArgs, aliases=("兑换",), feature=self.name),
            CommandSpec(
                "redemptions",
                self.redemptions,
                Args,
                admin_only=True,
                aliases=("兑换记录",),
                feature=self.name,
            ),
        ]

    # --- the shop ------------------------------------------------------------------------------------

    async def shop(self, ctx: Context, args: Args) -> None:
        action = (args.action or "").lower()
        if action in ("add", "remove") and not ctx.is_admin:
            await ctx.reply(ctx.t("common.admin_only", name=f"shop {action}"), ephemeral=True)
        elif action == "add":
            await self._add(ctx, args.rest)
        elif action == "remove":
            await self._remove(ctx, args.rest)
        elif action:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.shop.usage")), ephemeral=True)
        else:
            await self._list(ctx)

    async def _list(self, ctx: Context) -> None:
        items = await ShopRepo(ctx.app.db).active_items(ctx.group.id)
        if not items:
            await ctx.reply(ctx.t("shop.empty"))
            return
        lines = [ctx.t("shop.title")]
        for item in items:
            stock = ctx.t("shop.unlimited") if item.stock is None else ctx.t("shop.stock", stock=item.stock)
            line = ctx.t("shop.line", id=item.id, name=shown_name(ctx, item), cost=item.cost, stock=stock)
            description = shown_description(ctx, item)
            lines.append(line + (f"\n    {description}" if description else ""))
        lines.append(ctx.t("shop.hint"))
        await ctx.reply("\n".join(lines))

    async def _add(self, ctx: Context, rest: str) -> None:
        tokens = tokenize(rest)
        usage = ctx.t("common.usage", usage=ctx.t("cmd.shop.usage"))
        if len(tokens) < 2:
            await ctx.reply(usage, ephemeral=True)
            return
        name, cost = tokens[0].text.strip()[:MAX_NAME], parse_int(tokens[1].text, 1, MAX_COST)
        kind = "reward"
        if name.lower() == "freeze":  # the reserved name stocks streak freezes
            name, kind = ctx.t("shop.freeze_name"), "freeze"
        stock, description_from = None, 2
        if len(tokens) > 2 and (n := parse_int(tokens[2].text, 0, MAX_STOCK)) is not None:
            stock, description_from = n, 3
        if not name or cost is None:
            await ctx.reply(usage, ephemeral=True)
            return
        if parse_int(name) is not None:
            await ctx.reply(ctx.t("shop.name_not_number"), ephemeral=True)
            return
        description = (
            rest[tokens[description_from].start :].strip()[:MAX_DESCRIPTION]
            if len(tokens) > description_from
            else ""
        )
        if await find_item(ctx.app.db, ctx.group.id, name, exact=True) is not None:
            await ctx.reply(ctx.t("shop.exists", name=name))
            return
        item_id = await ShopRepo(ctx.app.db).add_item(
            ctx.group.id,
            name,
            cost,
            stock,
            description or (ctx.t("shop.freeze_description") if kind == "freeze" else ""),
            kind,
            ctx.now_ms(),
        )
        await ctx.reply(ctx.t("shop.added", id=item_id, name=name, cost=cost))

    async def _remove(self, ctx: Context, ref: str) -> None:
        item = await self._one_item(ctx, ref)
        if item is None:
            return
        await ShopRepo(ctx.app.db).retire_item(item.id)
        await ctx.reply(ctx.t("shop.removed", name=shown_name(ctx, item)))

    async def _one_item(self, ctx: Context, ref: str) -> Item | None:
        """The item meant, or an answer: none fits, or which of several did they mean."""
        found = await find_items(ctx.app.db, ctx.group.id, ref) if ref.strip() else []
        if len(found) == 1:
            return found[0]
        if not found:
            await ctx.reply(ctx.t("shop.no_item", item=ref.strip()[:MAX_NAME]), ephemeral=True)
        else:
            names = "、".join(f"#{i.id} {i.name}" for i in found[:10])
            await ctx.reply(
                ctx.t("shop.which_item", item=ref.strip()[:MAX_NAME], items=names), ephemeral=True
            )
        return None

    # --- redeeming -----------------------------------------------------------------------------------

    async def redeem(self, ctx: Context, args: RedeemArgs) -> None:
        assert ctx.event is not None
        user = ctx.event.user
        item = await self._one_item(ctx, args.item)
        if item is None:
            return
        try:
            done = await ShopRepo(ctx.app.db).redeem(
                ctx.group.id,
                item,
                user.user_id,
                source_key=f"{ctx.event.event_key}:redeem",
                at_ms=ctx.now_ms(),
                day=ctx.today(),
            )
        except AlreadyRedeemed:
            await ctx.reply(ctx.t("common.already_done"), ephemeral=True)
            return
        except SoldOut:
            await ctx.reply(ctx.t("shop.sold_out", name=shown_name(ctx, item)), ephemeral=True)
            return
        except InsufficientPoints:
            await ctx.reply(
                ctx.t("shop.not_enough", name=shown_name(ctx, item), cost=item.cost), ephemeral=True
            )
            return
        if item.kind == "freeze":
            await ctx.reply(
                ctx.t("shop.freeze_bought", cost=item.cost, count=done.freezes, balance=done.balance)
            )
            return
        await ctx.reply(
            ctx.t(
                "shop.redeemed",
                name=shown_name(ctx, item),
                cost=item.cost,
                id=done.id,
                balance=done.balance,
            )
        )
        # For the admins who hand the reward over: their log (the group only when there is none)
        text = ctx.t(
            "shop.notify_admins",
            id=done.id,
            mention=mention(user.user_id, user.name),
            name=shown_name(ctx, item),
        )
        await ctx.app.emit(ctx, "admins.notice", text=text)

    async def redemptions(self, ctx: Context, args: Args) -> None:
        action = (args.action or "").lower()
        if not action:
            await self._pending(ctx)
            return
        rid = parse_int(args.rest.strip().removeprefix("#"), 1)
        if action not in ("done", "cancel") or rid is None:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.redemptions.usage")), ephemeral=True)
            return
        assert ctx.event is not None
        repo = ShopRepo(ctx.app.db)
        actor, now, day = ctx.event.user.user_id, ctx.now_ms(), ctx.today()
        if action == "done":
            row = await repo.fulfil(ctx.group.id, rid, actor, now)
        else:
            row = await repo.cancel(ctx.group.id, rid, actor, now, day)
        if row is None:
            await ctx.reply(ctx.t("shop.no_redemption", id=rid))
            return
        member = await ctx.app.members.get(ctx.group.id, row.user_id)
        who = mention(row.user_id, member.name if member else row.user_id)
        key = "shop.fulfilled" if action == "done" else "shop.cancelled"
        await ctx.reply(ctx.t(key, id=rid, mention=who, name=row.item_name, cost=row.cost))

    async def _pending(self, ctx: Context) -> None:
        rows = await ShopRepo(ctx.app.db).pending(ctx.group.id, PENDING_SHOWN)
        if not rows:
            await ctx.reply(ctx.t("shop.none_pending"))
            return
        lines = [ctx.t("shop.pending_title")]
        for r in rows:
            member = await ctx.app.members.get(ctx.group.id, r.user_id)
            lines.append(f"#{r.id} {member.name if member else r.user_id} — {r.item_name}")
        lines.append(ctx.t("shop.pending_hint"))
        await ctx.reply("\n".join(lines))
