"""Scheduling on APScheduler, with the database as the source of truth and an injectable clock.

Live mode hands every job to APScheduler's AsyncIOScheduler. Manual mode (console scripts, tests) uses the
same APScheduler triggers for the arithmetic but fires jobs only when the clock is advanced, in time order,
so a week of community life replays in a second.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import Clock, FakeClock, to_ms
from bot.unit import current as current_unit
from storage.jobs import JobRecord, JobRepo

log = logging.getLogger(__name__)

Runner = Callable[[JobRecord, datetime], Awaitable[None]]
MISFIRE_GRACE = timedelta(hours=1)  # a one-off missed while the bot was down still fires if this late at most
_MAX_FIRES_PER_ADVANCE = 100_000


def build_trigger(job: JobRecord) -> BaseTrigger:
    args: dict[str, Any] = dict(job.trigger_args)
    tz = args.pop("timezone", "UTC")
    if job.trigger_type == "date":
        return DateTrigger(run_date=datetime.fromisoformat(args["run_at"]), timezone=tz)
    if job.trigger_type == "interval":
        start = args.pop("start", None)
        return IntervalTrigger(
            timezone=tz, start_date=datetime.fromisoformat(start) if start else None, **args
        )
    if job.trigger_type == "cron":
        return cron_trigger(tz, args)
    raise ValueError(f"unknown trigger type {job.trigger_type!r}")


def cron_trigger(tz: Any, args: dict[str, Any]) -> BaseTrigger:
    """A cron trigger; with `either_day` (bot/when.py sets it when a cron restricts both) a day of the
    month OR a day of the week fires it, as standard cron reads them: CronTrigger alone ANDs them."""
    args = dict(args)
    if args.pop("either_day", False):
        by_day = CronTrigger(timezone=tz, **{**args, "day_of_week": "*"})
        by_weekday = CronTrigger(timezone=tz, **{**args, "day": "*"})
        return OrTrigger([by_day, by_weekday])
    return CronTrigger(timezone=tz, **args)


class Scheduler:
    def __init__(self, repo: JobRepo, clock: Clock, runner: Runner, *, manual: bool) -> None:
        self._repo = repo
        self._clock = clock
        self._runner = runner
        self._manual = manual
        self._jobs: dict[str, tuple[JobRecord, BaseTrigger]] = {}
        self._next: dict[str, datetime] = {}
        self._aps: AsyncIOScheduler | None = None if manual else AsyncIOScheduler(timezone=UTC)

    @property
    def manual(self) -> bool:
        return self._manual

    async def load(self) -> int:
        """Rebuild every job from the database (at start)."""
        now = self._clock.now()
        for job in await self._repo.all():
            try:
                self._arm(job, build_trigger(job), now, restoring=True)
            except Exception:
                log.exception("cannot restore job %s; leaving it in the database", job.id)
        return len(self._jobs)

    def start(self) -> None:
        if self._aps is not None and not self._aps.running:
            self._aps.start()

    def shutdown(self) -> None:
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)

    async def add(self, job: JobRecord) -> datetime | None:
        """Persist and arm a job; returns its next fire time (None when it will never fire).

        Inside a unit of work the job is armed once the unit commits: armed at once, it could fire
        before its row and the rows it reads are visible to the job's own connection (PostgreSQL), and a
        rollback would leave it armed with no row behind it."""
        trigger = build_trigger(job)  # validates before anything is stored
        now = self._clock.now()
        await self._repo.save(job, to_ms(now))
        uow = current_unit()
        if uow is None:
            self._arm(job, trigger, now, restoring=False)
            return self.next_fire(job.id)

        async def arm() -> None:
            self._arm(job, trigger, self._clock.now(), restoring=False)

        uow.after_commit(arm)
        return trigger.get_next_fire_time(None, now)

    async def ensure(self, job: JobRecord) -> None:
        """Add a system job unless the database already holds it (features call this at start)."""
        if job.id not in self._jobs:
            await self.add(job)

    async def remove(self, job_id: str) -> bool:
        """Delete and disarm a job; inside a unit of work it is disarmed once the unit commits (a
        rollback keeps it, row and all). A job that fires meanwhile finds its work done or gone."""
        removed = await self._repo.delete(job_id)
        uow = current_unit()
        if uow is None:
            self._disarm(job_id)
        else:

            async def disarm() -> None:
                self._disarm(job_id)

            uow.after_commit(disarm)
        return removed

    def _disarm(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)
        self._next.pop(job_id, None)
        if self._aps is not None and self._aps.get_job(job_id) is not None:
            self._aps.remove_job(job_id)

    def next_fire(self, job_id: str) -> datetime | None:
        if self._aps is not None:
            aps_job = self._aps.get_job(job_id)
            if aps_job is None:
                return None
            # A job added before the scheduler started is pending and has no run time yet.
            pending = aps_job.trigger.get_next_fire_time(None, self._clock.now())
            return getattr(aps_job, "next_run_time", pending)
        return self._next.get(job_id)

    def job_ids(self) -> list[str]:
        return sorted(self._jobs)

    def armed(self, job_id: str) -> tuple[JobRecord, BaseTrigger] | None:
        """The job as loaded (with when it last ran) and its trigger."""
        return self._jobs.get(job_id)

    def _arm(self, job: JobRecord, trigger: BaseTrigger, now: datetime, *, restoring: bool) -> None:
        if self._aps is not None and not isinstance(trigger, DateTrigger):
            # APScheduler works out the first fire itself when it takes the job: computing it here too
            # made a start with 10,000 campaigns a second slower
            self._jobs[job.id] = (job, trigger)
            self._aps_add(job.id, trigger)
            return
        first = trigger.get_next_fire_time(None, now)
        if first is None:
            return
        aps_trigger = trigger
        if isinstance(trigger, DateTrigger) and first < now - MISFIRE_GRACE:
            # Skipping it would leave whatever it finishes (a verification, a greeting queue) stuck
            # forever: a one-off fires once, late, and its function decides what lateness means.
            log.warning("one-off job %s was due at %s, long ago; firing it late now", job.id, first)
            aps_trigger = DateTrigger(run_date=now)
        self._jobs[job.id] = (job, trigger)
        if self._aps is not None:
            self._aps_add(job.id, aps_trigger)
        else:
            self._next[job.id] = first

    def _aps_add(self, job_id: str, trigger: BaseTrigger) -> None:
        assert self._aps is not None
        self._aps.add_job(
            self._fire,
            trigger,
            args=[job_id],
            id=job_id,
            replace_existing=True,
            misfire_grace_time=int(MISFIRE_GRACE.total_seconds()),
            coalesce=True,
        )

    async def _fire(self, job_id: str) -> None:
        entry = self._jobs.get(job_id)
        if entry is None:
            return
        job, trigger = entry
        fired_at = self._clock.now()
        await self._run(job, fired_at)
        if isinstance(trigger, DateTrigger):
            self._jobs.pop(job_id, None)
            await self._repo.delete(job_id)

    async def _run(self, job: JobRecord, at: datetime) -> None:
        try:
            await self._runner(job, at)
        except Exception:
            log.exception("job %s (%s) failed", job.id, job.kind)
        try:
            await self._repo.mark_run(job.id, to_ms(at))
        except Exception:
            log.exception("cannot record the run of job %s", job.id)

    async def run_due(self) -> int:
        """Manual mode: fire what is due now (after a restart, or after the clock was set)."""
        return await self.advance_to(self._clock.now())

    async def advance_to(self, target: datetime, *, jump: bool = False) -> int:
        """Manual mode: move the clock to `target`, firing every job due on the way, in time order.

        `jump=True` is a restart after downtime instead: one-off jobs still fire in order, but each
        recurring job that missed fires once, at `target` (APScheduler's coalescing), not once per
        missed day: a console script that sets its clock ten months on must not replay 47,000 fires."""
        if not self._manual or not isinstance(self._clock, FakeClock):
            raise RuntimeError("advance_to needs manual mode and a FakeClock")
        fired = 0
        missed: list[str] = []
        if jump:
            for job_id, when in list(self._next.items()):
                _job, trigger = self._jobs[job_id]
                if when <= target and not isinstance(trigger, DateTrigger):
                    missed.append(job_id)
                    following = trigger.get_next_fire_time(None, target + timedelta(microseconds=1))
                    if following is None:
                        self._next.pop(job_id)  # its last fire is the coalesced one
                    else:
                        self._next[job_id] = following
        while fired < _MAX_FIRES_PER_ADVANCE:
            due = [(when, jid) for jid, when in self._next.items() if when <= target]
            if not due:
                break
            when, job_id = min(due)
            job, trigger = self._jobs[job_id]
            if when > self._clock.now():
                self._clock.set(when)
            await self._run(job, when)
            fired += 1
            if job_id not in self._jobs:  # the job removed itself
                continue
            following = trigger.get_next_fire_time(when, when + timedelta(microseconds=1))
            if following is None:
                self._jobs.pop(job_id, None)
                self._next.pop(job_id, None)
                await self._repo.delete(job_id)
            else:
                self._next[job_id] = following
        if target > self._clock.now():
            self._clock.set(target)
        for job_id in missed:  # coalesced: once, now
            if job_id in self._jobs:
                await self._run(self._jobs[job_id][0], target)
                fired += 1
        return fired
