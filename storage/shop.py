"""The points shop's catalogue: a group's active items, adding one, retiring one."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Executor, Row

_COLUMNS = "id, name, cost, stock, description, kind"


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
    def __init__(self, db: Executor) -> None:
        self._db = db

    async def active_items(self, group_id: int) -> list[Item]:
        """What /shop shows, in the order of the numbers members use."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM shop_items WHERE group_id = ? AND active = 1 ORDER BY id", group_id
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
