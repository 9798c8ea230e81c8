"""Scheduled jobs as rows: the database, not the scheduler's memory, is the source of truth."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from storage.db import Database

TriggerType = Literal["date", "interval", "cron"]


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    kind: str  # "<feature>.<job>", resolved to a function by the app
    trigger_type: TriggerType
    trigger_args: dict[str, Any]
    group_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    last_run_ms: int | None = None


class JobRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, job: JobRecord, now_ms: int) -> None:
        await self._db.execute(
            "INSERT INTO scheduled_jobs (id, group_id, kind, trigger_type, trigger_args, payload, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET group_id = excluded.group_id, "
            "kind = excluded.kind, trigger_type = excluded.trigger_type, trigger_args = excluded.trigger_args, "
            "payload = excluded.payload",
            job.id,
            job.group_id,
            job.kind,
            job.trigger_type,
            json.dumps(job.trigger_args, sort_keys=True),
            json.dumps(job.payload, ensure_ascii=False, sort_keys=True),
            now_ms,
        )

    async def delete(self, job_id: str) -> bool:
        return await self._db.execute_rowcount("DELETE FROM scheduled_jobs WHERE id = ?", job_id) > 0

    async def mark_run(self, job_id: str, at_ms: int) -> None:
        await self._db.execute("UPDATE scheduled_jobs SET last_run_at = ? WHERE id = ?", at_ms, job_id)

    async def all(self) -> list[JobRecord]:
        rows = await self._db.fetchall(
            "SELECT id, group_id, kind, trigger_type, trigger_args, payload, last_run_at FROM scheduled_jobs ORDER BY id"
        )
        return [
            JobRecord(
                id=r["id"],
                kind=r["kind"],
                trigger_type=r["trigger_type"],
                trigger_args=json.loads(r["trigger_args"]),
                group_id=r["group_id"],
                payload=json.loads(r["payload"]),
                last_run_ms=r["last_run_at"],
            )
            for r in rows
        ]

    async def get(self, job_id: str) -> JobRecord | None:
        return next((j for j in await self.all() if j.id == job_id), None)
