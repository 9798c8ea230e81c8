"""Housekeeping once a day: the processed-event log, and whatever each feature keeps only for a while
(`Feature.prune`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.clock import to_ms
from bot.feature import Feature, JobFunc
from storage.jobs import JobRecord

if TYPE_CHECKING:
    from bot.app import App
    from bot.context import Context

PRUNE_JOB_ID = "system:prune-events"


class MaintenanceFeature(Feature):
    name = "maintenance"
    priority = 1000

    def jobs(self) -> dict[str, JobFunc]:
        return {"prune_events": self.prune_events}

    async def on_start(self, app: App) -> None:
        await app.scheduler.ensure(
            JobRecord(
                id=PRUNE_JOB_ID,
                kind=f"{self.name}.prune_events",
                trigger_type="cron",
                trigger_args={"hour": 4, "minute": 0, "timezone": "Asia/Shanghai"},
            )
        )

    async def prune_events(self, app: App, _ctx: Context | None, _job: JobRecord) -> None:
        from bot.app import PROCESSED_EVENTS_KEPT

        await app.writer.flush()
        await app.processed.prune(to_ms(app.clock.now() - PROCESSED_EVENTS_KEPT))
        for feature in app.features:
            await feature.prune(app, to_ms(app.clock.now()))
