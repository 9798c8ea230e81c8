"""The points shop: a group's active items, adding one, retiring one, and redeeming one."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Database, Row
from storage.points import award

_COLUMNS = "id, name, cost, stock, description, kind"


class SoldOut(Exception):
    """The last one went to someone else: nothing was written."""


class AlreadyRedeemed(Exception):
    """This very command was carried out before (a redelivery): nothing was written."""


@dataclass(frozen=True, slots=True)
class Redeemed:
    id: int
    balance: int  # after paying
    freezes: int  # streak freezes held now (a freeze item is granted at once)


@dataclass(frozen=True, slots=True)
class Redemption:
    id: int
    user_id: str
    item_id: int
    item_name: str
    cost: int


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    name: str
    cost: int
    stock: int | None
    description: str
    kind: str  # "reward" (handed over by an admin) or "freeze" (a streak freeze, granted at once)


def _item(row: Row) -> Item:
    stock = row["stock"]
    return Item(
        int(row["id"]),
        row["name"],
        int(row["cost"]),
        None if stock is None else int(stock),
        row["description"],
        row["kind"],
    )


class ShopRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def active_items(self, group_id: int) -> list[Item]:
        """What /shop shows, in the order of the numbers members use."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM shop_items WHERE group_id = ? AND active = 1 ORDER BY id", group_id
        )
        return [_item(r) for r in rows]

    async def added_since(self, group_id: int, since_ms: int, max_cost: int | None = None) -> list[Item]:
        """Items on sale that were added after `since_ms` (and cost at most `max_cost`), cheapest first."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM shop_items WHERE group_id = ? AND active = 1 AND created_at > ? "
            "AND cost <= ? ORDER BY cost, id LIMIT 3",
            group_id,
            since_ms,
            2**62 if max_cost is None else max_cost,
        )
        return [_item(r) for r in rows]

    async def add_item(
        self, group_id: int, name: str, cost: int, stock: int | None, description: str, kind: str, now_ms: int
    ) -> int:
        row = await self._db.fetchone(
            "INSERT INTO shop_items (group_id, name, cost, stock, description, kind, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            group_id,
            name,
            cost,
            stock,
            description,
            kind,
            now_ms,
        )
        assert row is not None
        return int(row[0])

    async def retire_item(self, item_id: int) -> None:
        """Off the shelf; redemptions made of it keep pointing at it."""
        await self._db.execute("UPDATE shop_items SET active = 0 WHERE id = ?", item_id)

    async def redeem(
        self, group_id: int, item: Item, user_id: str, *, source_key: str, at_ms: int, day: str
    ) -> Redeemed:
        """Pay, take one from the stock, grant a freeze at once or open a pending redemption: all or
        nothing (InsufficientPoints, SoldOut, AlreadyRedeemed write nothing)."""
        async with self._db.transaction() as tx:
            paid = await award(
                tx,
                group_id,
                user_id,
                -item.cost,
                reason=f"redeem:{item.id}",
                source_key=source_key,
                actor=user_id,
                at_ms=at_ms,
                day=day,
            )
            if not paid:
                raise AlreadyRedeemed
            taken = await tx.execute_rowcount(
                "UPDATE shop_items SET stock = stock - 1 WHERE id = ? AND active = 1 AND stock IS NOT NULL "
                "AND stock > 0",
                item.id,
            )
            if not taken and item.stock is not None:
                raise SoldOut  # rolls the payment back too
            freezes = 0
            if item.kind == "freeze":  # granted at once: no admin needs to hand it over
                freezes = int(
                    await tx.fetchval(
                        "INSERT INTO checkin_prefs (group_id, user_id, freezes) VALUES (?, ?, 1) "
                        "ON CONFLICT (group_id, user_id) DO UPDATE SET freezes = checkin_prefs.freezes + 1 "
                        "RETURNING freezes",
                        group_id,
                        user_id,
                    )
                )
            row = await tx.fetchone(
                "INSERT INTO redemptions (group_id, item_id, user_id, cost, status, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                group_id,
                item.id,
                user_id,
                item.cost,
                "done" if item.kind == "freeze" else "pending",
                at_ms,
                at_ms,
            )
        assert row is not None
        return Redeemed(int(row[0]), paid.balance, freezes)

    async def pending(self, group_id: int, limit: int) -> list[Redemption]:
        rows = await self._db.fetchall(
            f"SELECT {_REDEMPTION} WHERE r.group_id = ? AND r.status = 'pending' ORDER BY r.id LIMIT ?",
            group_id,
            limit,
        )
        return [_redemption(r) for r in rows]

    async def fulfil(self, group_id: int, redemption_id: int, actor: str, at_ms: int) -> Redemption | None:
        """Mark a pending redemption handed over; None when there is no such pending one."""
        async with self._db.transaction():
            found = await self._take_pending(group_id, redemption_id, "done", actor, at_ms)
        return found

    async def cancel(
        self, group_id: int, redemption_id: int, actor: str, at_ms: int, day: str
    ) -> Redemption | None:
        """Cancel a pending redemption: the points go back (a refund, once) and so does the stock."""
        async with self._db.transaction() as tx:
            found = await self._take_pending(group_id, redemption_id, "cancelled", actor, at_ms)
            if found is not None:
                await award(
                    tx,
                    group_id,
                    found.user_id,
                    found.cost,
                    reason=f"refund:{redemption_id}",
                    source_key=f"refund:{redemption_id}",
                    kind="refund",
                    actor=actor,
                    at_ms=at_ms,
                    day=day,
                )
                await tx.execute(
                    "UPDATE shop_items SET stock = stock + 1 WHERE id = ? AND stock IS NOT NULL",
                    found.item_id,
                )
        return found

    async def _take_pending(
        self, group_id: int, redemption_id: int, status: str, actor: str, at_ms: int
    ) -> Redemption | None:
        row = await self._db.fetchone(
            f"SELECT {_REDEMPTION} WHERE r.id = ? AND r.group_id = ? AND r.status = 'pending'",
            redemption_id,
            group_id,
        )
        if row is None:
            return None
        await self._db.execute(
            "UPDATE redemptions SET status = ?, updated_at = ?, actor = ? WHERE id = ?",
            status,
            at_ms,
            actor,
            redemption_id,
        )
        return _redemption(row)


_REDEMPTION = (
    "r.id, r.user_id, r.item_id, i.name, r.cost FROM redemptions r JOIN shop_items i ON i.id = r.item_id"
)


def _redemption(row: Row) -> Redemption:
    return Redemption(int(row[0]), row[1], int(row[2]), row[3], int(row[4]))
