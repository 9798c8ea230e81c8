"""Groups and their settings. A group is (platform, chat id); everything else is scoped by its row id."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from storage.db import Database


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    platform: str
    chat_id: str
    title: str


S = TypeVar("S")


class GroupRepo(Generic[S]):
    """Caches groups, their stored overrides and the settings parsed from them; a write refreshes the entry.

    `parse` turns stored overrides into the settings object (config.group_settings.from_overrides).
    """

    def __init__(self, db: Database, parse: Callable[[dict[str, Any]], S]) -> None:
        self._db = db
        self._parse = parse
        self._groups: dict[tuple[str, str], Group] = {}
        self._overrides: dict[int, dict[str, Any]] = {}
        self._settings: dict[int, S] = {}

    async def ensure(self, platform: str, chat_id: str, title: str, now_ms: int) -> Group:
        key = (platform, chat_id)
        group = self._groups.get(key)
        if group is not None and (not title or title == group.title):
            return group
        await self._db.execute(
            "INSERT INTO groups (platform, chat_id, title, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (platform, chat_id) DO UPDATE SET title = CASE WHEN excluded.title = '' "
            "THEN groups.title ELSE excluded.title END",
            platform,
            chat_id,
            title,
            now_ms,
        )
        row = await self._db.fetchone(
            "SELECT id, platform, chat_id, title FROM groups WHERE platform = ? AND chat_id = ?",
            platform,
            chat_id,
        )
        assert row is not None
        group = Group(int(row["id"]), row["platform"], row["chat_id"], row["title"])
        self._groups[key] = group
        return group

    def forget(self, platform: str, chat_id: str) -> None:
        """Drop what is cached of a chat: a unit that created its group may have rolled back (its id is
        then no row), and the next event must insert it again."""
        group = self._groups.pop((platform, chat_id), None)
        if group is not None:
            self._overrides.pop(group.id, None)
            self._settings.pop(group.id, None)

    async def get(self, platform: str, chat_id: str) -> Group | None:
        group = self._groups.get((platform, chat_id))
        if group is not None:
            return group
        row = await self._db.fetchone(
            "SELECT id, platform, chat_id, title FROM groups WHERE platform = ? AND chat_id = ?",
            platform,
            chat_id,
        )
        if row is None:
            return None
        group = Group(int(row["id"]), row["platform"], row["chat_id"], row["title"])
        self._groups[(platform, chat_id)] = group
        return group

    async def ids(self) -> list[int]:
        """Every group the bot knows (jobs that look at each group in turn)."""
        return [int(r[0]) for r in await self._db.fetchall("SELECT id FROM groups ORDER BY id")]

    async def by_id(self, group_id: int) -> Group | None:
        row = await self._db.fetchone(
            "SELECT id, platform, chat_id, title FROM groups WHERE id = ?", group_id
        )
        return None if row is None else Group(int(row["id"]), row["platform"], row["chat_id"], row["title"])

    async def overrides(self, group_id: int) -> dict[str, Any]:
        cached = self._overrides.get(group_id)
        if cached is None:
            raw = await self._db.fetchval("SELECT overrides FROM group_settings WHERE group_id = ?", group_id)
            cached = json.loads(raw) if raw else {}
            self._overrides[group_id] = cached
        return cached

    async def settings(self, group_id: int) -> S:
        cached = self._settings.get(group_id)
        if cached is None:
            cached = self._settings[group_id] = self._parse(await self.overrides(group_id))
        return cached

    async def save_overrides(self, group_id: int, overrides: dict[str, Any], actor: str, now_ms: int) -> None:
        await self._db.execute(
            "INSERT INTO group_settings (group_id, overrides, updated_at, updated_by) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (group_id) DO UPDATE SET overrides = excluded.overrides, "
            "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            group_id,
            json.dumps(overrides, ensure_ascii=False, sort_keys=True),
            now_ms,
            actor,
        )
        self._overrides[group_id] = overrides
        self._settings.pop(group_id, None)
