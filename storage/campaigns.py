"""Campaigns (活动日历): the posts an operator scheduled, each fire, and their figures.

Every lookup is by (group, id): another group's campaign is simply not found. A fire is a row unique on
(campaign, scheduled time), inserted in the fire's unit of work with the post it sends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage.db import Database, Row

_COLUMNS = (
    "id, group_id, text, trigger_type, trigger_args, schedule_text, options, state, event, stage, failures, "
    "last_message_id, created_at"
)


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    group_id: int
    text: str
    trigger_type: str
    trigger_args: dict[str, Any]
    schedule_text: str
    options: dict[str, Any]
    state: str
    event: str | None
    stage: str | None
    failures: int
    last_message_id: str | None
    created_at: int


def _campaign(r: Row) -> Campaign:
    return Campaign(
        int(r[0]), int(r[1]), r[2], r[3], json.loads(r[4]), r[5], json.loads(r[6]), r[7], r[8], r[9],
        int(r[10]), r[11], int(r[12]),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class CampaignStats:
    sent: int
    failed: int
    skipped: int
    presses: int
    last_reason: str | None


class CampaignRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        group_id: int,
        text: str,
        trigger_type: str,
        trigger_args: dict[str, Any],
        schedule_text: str,
        options: dict[str, Any],
        actor: str,
        at_ms: int,
        *,
        event: str | None = None,
        stage: str | None = None,
    ) -> int:
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "INSERT INTO campaigns (group_id, text, trigger_type, trigger_args, schedule_text, options, event, "
                "stage, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                group_id, text, trigger_type, json.dumps(trigger_args), schedule_text, json.dumps(options),
                event, stage, actor, at_ms,
            )  # fmt: skip
        assert row is not None
        return int(row[0])

    async def get(self, group_id: int, campaign_id: int) -> Campaign | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM campaigns WHERE group_id = ? AND id = ?", group_id, campaign_id
        )
        return None if row is None else _campaign(row)

    async def by_id(self, campaign_id: int) -> Campaign | None:
        row = await self._db.fetchone(f"SELECT {_COLUMNS} FROM campaigns WHERE id = ?", campaign_id)
        return None if row is None else _campaign(row)

    async def of_group(self, group_id: int, *, live_only: bool = False) -> list[Campaign]:
        where = " AND state <> 'done'" if live_only else ""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM campaigns WHERE group_id = ?{where} ORDER BY id", group_id
        )
        return [_campaign(r) for r in rows]

    async def active(self) -> list[Campaign]:
        rows = await self._db.fetchall(f"SELECT {_COLUMNS} FROM campaigns WHERE state = 'active' ORDER BY id")
        return [_campaign(r) for r in rows]

    async def count(self, group_id: int) -> int:
        return int(
            await self._db.fetchval(
                "SELECT COUNT(*) FROM campaigns WHERE group_id = ? AND state <> 'done'", group_id
            )
        )

    async def set_state(self, group_id: int, campaign_id: int, state: str) -> bool:
        return (
            await self._db.execute_rowcount(
                "UPDATE campaigns SET state = ?, failures = CASE WHEN ? = 'active' THEN 0 ELSE failures END "
                "WHERE group_id = ? AND id = ?",
                state,
                state,
                group_id,
                campaign_id,
            )
            > 0
        )

    async def update(self, group_id: int, campaign_id: int, **fields: Any) -> None:
        """text, trigger_type, trigger_args, schedule_text or options."""
        sets, values = [], []
        for name, value in fields.items():
            assert name in ("text", "trigger_type", "trigger_args", "schedule_text", "options")
            sets.append(f"{name} = ?")
            values.append(json.dumps(value) if isinstance(value, dict) else value)
        await self._db.execute(
            f"UPDATE campaigns SET {', '.join(sets)} WHERE group_id = ? AND id = ?",
            *values,
            group_id,
            campaign_id,
        )

    async def delete(self, group_id: int, campaign_id: int) -> bool:
        return (
            await self._db.execute_rowcount(
                "DELETE FROM campaigns WHERE group_id = ? AND id = ?", group_id, campaign_id
            )
            > 0
        )

    async def stages(self, group_id: int, event: str) -> list[Campaign]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM campaigns WHERE group_id = ? AND event = ? ORDER BY id", group_id, event
        )
        return [_campaign(r) for r in rows]

    # --- fires ---------------------------------------------------------------------------------------

    async def fire(self, campaign_id: int, due_ms: int, at_ms: int, status: str = "queued") -> int | None:
        """Record a fire before its post is sent; None when that scheduled time was fired already."""
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "INSERT INTO campaign_posts (campaign_id, due_at, fired_at, status) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (campaign_id, due_at) DO NOTHING RETURNING id",
                campaign_id,
                due_ms,
                at_ms,
                status,
            )
        return None if row is None else int(row[0])

    async def last_due(self, campaign_id: int) -> int | None:
        found = await self._db.fetchval(
            "SELECT MAX(due_at) FROM campaign_posts WHERE campaign_id = ?", campaign_id
        )
        return None if found is None else int(found)

    async def sent(self, post_id: int, message_id: str | None) -> tuple[Campaign, str | None] | None:
        """The post went out: remember its message; returns the campaign and its previous post's message."""
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE campaign_posts SET status = 'sent', message_id = ? WHERE id = ? RETURNING campaign_id",
                message_id,
                post_id,
            )
            if row is None:
                return None
            before = await tx.fetchval("SELECT last_message_id FROM campaigns WHERE id = ?", int(row[0]))
            await tx.execute(
                "UPDATE campaigns SET last_message_id = ?, failures = 0 WHERE id = ?", message_id, int(row[0])
            )
        campaign = await self.by_id(int(row[0]))
        return None if campaign is None else (campaign, before)

    async def failed(self, post_id: int, reason: str) -> Campaign | None:
        """The post was refused; returns the campaign with its count of consecutive failures."""
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE campaign_posts SET status = 'failed', reason = ? WHERE id = ? RETURNING campaign_id",
                reason,
                post_id,
            )
            if row is None:
                return None
            await tx.execute("UPDATE campaigns SET failures = failures + 1 WHERE id = ?", int(row[0]))
        return await self.by_id(int(row[0]))

    async def pressed(self, group_id: int, message_id: str) -> bool:
        """A button under one of this group's campaign posts was pressed: counted for its figures.
        Scoped by group: Telegram numbers messages per chat, so another group has a message 123 too."""
        return (
            await self._db.execute_rowcount(
                "UPDATE campaign_posts SET presses = presses + 1 WHERE message_id = ? AND campaign_id IN "
                "(SELECT id FROM campaigns WHERE group_id = ?)",
                message_id,
                group_id,
            )
            > 0
        )

    async def stats(self, campaign_id: int) -> CampaignStats:
        row = await self._db.fetchone(
            "SELECT COALESCE(SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN status = 'skipped' THEN 1 ELSE 0 END), 0), COALESCE(SUM(presses), 0) "
            "FROM campaign_posts WHERE campaign_id = ?",
            campaign_id,
        )
        assert row is not None
        reason = await self._db.fetchval(
            "SELECT reason FROM campaign_posts WHERE campaign_id = ? AND status = 'failed' ORDER BY due_at DESC LIMIT 1",
            campaign_id,
        )
        return CampaignStats(int(row[0]), int(row[1]), int(row[2]), int(row[3]), reason)

    async def checkins_after(self, campaign_id: int, within_ms: int = 3_600_000) -> int:
        """Check-ins in the group within the hour after each of the campaign's posts (a reminder's effect)."""
        found = await self._db.fetchval(
            "SELECT COUNT(*) FROM campaign_posts p JOIN campaigns c ON c.id = p.campaign_id "
            "JOIN checkins k ON k.group_id = c.group_id AND k.at >= p.fired_at AND k.at < p.fired_at + ? "
            "WHERE p.campaign_id = ? AND p.status = 'sent' AND k.makeup = 0",
            within_ms,
            campaign_id,
        )
        return int(found or 0)

    async def posts_since(self, group_id: int, since_ms: int) -> tuple[int, int]:
        """(sent, failed) posts of the group's campaigns since then: for the weekly health digest."""
        row = await self._db.fetchone(
            "SELECT COALESCE(SUM(CASE WHEN p.status = 'sent' THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN p.status = 'failed' THEN 1 ELSE 0 END), 0) FROM campaign_posts p "
            "JOIN campaigns c ON c.id = p.campaign_id WHERE c.group_id = ? AND p.fired_at >= ?",
            group_id,
            since_ms,
        )
        assert row is not None
        return int(row[0]), int(row[1])
