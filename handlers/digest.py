"""The community health digest (社群健康度报告): pushed weekly to the admins with two charts, pulled any
time with /stats, and the raw figures as CSV with /export (handlers/exports.py).

The weekly push is one hourly system job: a group whose digest hour has come (its `digest.day` and
`digest.hour`, group time) gets the report of the seven days before that day. The report is claimed in
`digests` (unique per group and covered week) in the same unit of work as its messages, so the
regular fire, a catch-up after downtime (up to a day late) and a restart never send it twice. Charts
are rendered before the unit opens, in a worker thread; a chart that fails to render is left out and
the text still goes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from bot import actions as A
from bot import charts
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import ChatRef
from bot.feature import Feature, JobFunc
from bot.i18n import duration
from bot.parsing import REST, tokenize
from bot.unit import off_loop, unit
from handlers.onboarding import TASKS
from rules.questions import repeated
from storage.digest import (
    CASE_ACTIONS,
    CASE_KINDS,
    ActivityFigures,
    CampaignFigures,
    DigestRepo,
    MemberFigures,
    NewcomerFigures,
    OrderFigures,
    Period,
    RitualFigures,
)
from storage.faq import FaqFigures, FaqRepo
from storage.jobs import JobRecord
from storage.moderation import ModerationRepo
from storage.needs import NeedsRepo, NeedStats
from storage.recall import RecallRepo, RecallStats

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

TICK_JOB_ID = "system:digest"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SECTIONS = ("members", "activity", "rituals", "newcomers", "order", "needs", "recall", "campaigns", "faq")
SECTION_WORDS = {
    **{s: s for s in SECTIONS},
    "moderation": "order",
    "checkin": "rituals",
    "points": "rituals",
    "成员": "members",
    "活跃": "activity",
    "发言": "activity",
    "签到": "rituals",
    "积分": "rituals",
    "新人": "newcomers",
    "秩序": "order",
    "管理": "order",
    "需求": "needs",
    "召回": "recall",
    "活动": "campaigns",
    "常见问题": "faq",
    "问答": "faq",
}
WINDOWS = {"7d": 7, "30d": 30, "90d": 90, "7天": 7, "30天": 30, "90天": 90}
CHART_DAYS = 28  # the daily chart covers at least four weeks
LATE_LIMIT = timedelta(days=1)  # a digest missed while the bot was down goes out up to a day late
TOP = 5
# Unanswered FAQ questions grouped for the report: grouping is quadratic in the distinct wordings and
# members choose that number (500 took 1.9 s), so the newest this many are grouped, in a worker thread.
REPEATED_MAX = 150


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rest: Annotated[str, REST] = ""


@dataclass(slots=True)
class Report:
    period: Period
    sections: tuple[str, ...]
    members: MemberFigures | None = None
    members_before: MemberFigures | None = None
    activity: ActivityFigures | None = None
    activity_before: ActivityFigures | None = None
    rituals: RitualFigures | None = None
    rituals_before: RitualFigures | None = None
    newcomers: NewcomerFigures | None = None
    order: OrderFigures | None = None
    order_before: OrderFigures | None = None
    needs: NeedStats | None = None
    recall: RecallStats | None = None
    campaigns: CampaignFigures | None = None
    faq: FaqFigures | None = None
    faq_repeated: list[tuple[str, int]] = field(default_factory=list)  # (a wording, members who asked)


def last_fire(now: datetime, zone: str, day: str, hour: int) -> datetime:
    """The latest moment at or before `now` that is `day` at `hour`:00 in the group's timezone."""
    local = now.astimezone(ZoneInfo(zone))
    back = (local.weekday() - WEEKDAYS.index(day)) % 7
    fire = datetime.combine(
        local.date() - timedelta(days=back), datetime.min.time().replace(hour=hour), local.tzinfo
    )
    if fire > local:
        fire -= timedelta(days=7)
    return fire


def week_before(fire: datetime, zone: str) -> Period:
    """The seven group days before the digest's day."""
    return Period.ending(fire.date() - timedelta(days=1), 7, zone)


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.0f}%"


class DigestFeature(Feature):
    name = "digest"
    settings_section = "digest"
    priority = 97

    def commands(self) -> list[CommandSpec]:
        # members get a short public version only where digest.public_stats is on (off by default)
        return [
            CommandSpec(
                "stats", self.stats_cmd, Args, aliases=("统计", "数据"), feature=self.name, admin_by_default=True
            )
        ]

    def jobs(self) -> dict[str, JobFunc]:
        return {"tick": self.tick_job}

    async def on_start(self, app: App) -> None:
        await off_loop(app, app.files.prune)
        await app.scheduler.ensure(
            JobRecord(TICK_JOB_ID, f"{self.name}.tick", "cron", {"minute": 0, "timezone": "UTC"})
        )
        # A digest whose hour passed while the bot was down goes out now (the tick is hourly).
        await app.scheduler.add(
            JobRecord(
                f"{TICK_JOB_ID}:start", f"{self.name}.tick", "date", {"run_at": app.clock.now().isoformat()}
            )
        )

    # --- the weekly push -----------------------------------------------------------------------------

    async def tick_job(self, app: App, _ctx: Context | None, _job: JobRecord) -> None:
        """Each due group's report is a unit of its own, computed and drawn before it opens: the tick's
        own unit never opens, so no group's slow work holds the write lock another group needs, and a
        kill re-sends nothing a committed group's unit already claimed."""
        if app.clock.now().astimezone(UTC).hour == 0:  # once a day: charts and exports a week old go
            await off_loop(app, app.files.prune)
        for group_id in await app.groups.ids():
            ctx = await app.context_for_group(group_id)
            if ctx is None:
                continue
            s = ctx.settings.digest
            if s.target == "off":
                continue
            fire = last_fire(ctx.now(), ctx.settings.timezone, s.day, s.hour)
            if ctx.now() - fire >= LATE_LIMIT:
                continue
            period = week_before(fire, ctx.settings.timezone)
            if await DigestRepo(app.db).sent(group_id, period.first):
                continue
            try:
                await self.push(ctx, period)
            except Exception:  # one group's failure must not keep the others' digests back
                log.exception("digest of group %s failed", group_id)

    async def push(self, ctx: Context, period: Period) -> bool:
        """Compute, render, then claim and queue in one unit; False if this week's digest went already.

        Nothing before the unit writes: the batch is flushed apart (a plain `flush` here would open
        the tick's unit and hold the write lock over every later group), the figures are reads and the
        charts a worker thread's. The claim, the message and the files commit together, so the week's
        report goes out once whatever is killed when (the one send in flight at a kill may repeat)."""
        app = ctx.app
        where = await self.target(ctx)
        if where is None:
            return False  # no admin log yet: nowhere private to push to (/stats still answers)
        target, channel = where
        await ctx.settle_apart()
        report = await self.compute(ctx, period, SECTIONS)
        text = self.text(ctx, report, weekly=True)
        files = await self.render(ctx, report)
        claimed = False
        async with unit(
            app, f"digest:{ctx.group.id}:{period.first}", ctx.now_ms(), record=False, background=True
        ):
            claimed = await DigestRepo(app.db).claim(ctx.group.id, period.first, ctx.now_ms())
            if claimed:
                await ctx.act(A.Send(chat=target, text=text, channel=channel))
                for path, name, caption in files:
                    await ctx.send_file(path, name, caption, photo=True, chat=target, channel=channel)
        if not claimed:
            for path, _, _ in files:
                await off_loop(app, Path(path).unlink, True)
        return claimed

    async def target(self, ctx: Context) -> tuple[ChatRef, str | None] | None:
        """Where the digest goes: the admin log, or the group when an admin chose it. A group without an
        admin log gets no push: its members would read the admins' report (and /stats says so)."""
        match ctx.settings.digest.target:
            case "log":
                log_target = await ModerationRepo(ctx.app.db).log_target(ctx.group.id)
                if log_target is None:
                    return None
                return ChatRef(ctx.group.platform, log_target.chat_id), log_target.channel
            case "group":
                return ctx.chat, None
        return None

    # --- /stats --------------------------------------------------------------------------------------

    async def stats_cmd(self, ctx: Context, args: Args) -> None:
        days, section, bad = 7, None, None
        for token in tokenize(args.rest):
            word = token.text.lower()
            if word in WINDOWS:
                days = WINDOWS[word]
            elif word in SECTION_WORDS:
                section = SECTION_WORDS[word]
            else:
                bad = token.text
        if bad is not None:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.stats.usage")), ephemeral=True)
            return
        if not ctx.is_admin:
            if not ctx.settings.digest.public_stats:
                await ctx.reply(ctx.t("common.admin_only", name="stats"), ephemeral=True)
                return
            await ctx.settle_apart()
            await ctx.reply(await self.public_text(ctx, days))
            return
        # Every read and the charts come before the first write: the reply opens the unit, and a 90-day
        # report drawn inside it held the write lock every other group's commands wait for.
        await ctx.settle_apart()
        today = date.fromisoformat(ctx.today())
        period = Period.ending(today, days, ctx.settings.timezone)
        sections = (section,) if section else SECTIONS
        report = await self.compute(ctx, period, sections)
        text = self.text(ctx, report, weekly=False)
        if section is None and ctx.settings.digest.target != "off" and await self.target(ctx) is None:
            s = ctx.settings.digest
            text += "\n" + ctx.t("digest.no_log_hint", day=ctx.t(f"digest.weekday.{s.day}"), hour=s.hour)
        files = await self.render(ctx, report)
        await ctx.reply(text)
        for path, name, caption in files:
            await ctx.send_file(path, name, caption, photo=True)

    async def public_text(self, ctx: Context, days: int) -> str:
        """What members may see: size, messages, active members, check-ins. No names, no moderation."""
        repo = DigestRepo(ctx.app.db)
        period = Period.ending(date.fromisoformat(ctx.today()), days, ctx.settings.timezone)
        total = await repo.members_now(ctx.group.id)
        act = await repo.activity(ctx.group.id, period)
        rit = await repo.rituals(ctx.group.id, period, top=0)
        return "\n".join(
            [
                ctx.t("digest.public_title", group=self.group_name(ctx), days=days),
                ctx.t("digest.public_line", total=total, messages=act.messages, active=act.active),
                ctx.t("digest.public_checkins", checkins=rit.checkins, checkers=rit.checkers),
            ]
        )

    # --- figures -------------------------------------------------------------------------------------

    def enabled(self, ctx: Context, section: str) -> bool:
        app, s = ctx.app, ctx.settings
        match section:
            case "rituals":
                return (app.has_feature("checkin") and s.checkin.enabled) or (
                    app.has_feature("points") and s.points.enabled
                )
            case "newcomers":
                return app.has_feature("welcome") or app.has_feature("onboarding")
            case "order":
                return app.has_feature("moderation") and s.moderation.enabled
            case "needs":
                return app.has_feature("needs") and s.needs.enabled
            case "recall":
                return app.has_feature("recall")
            case "campaigns":
                return app.has_feature("campaigns") and s.campaigns.enabled
            case "faq":
                return app.has_feature("faq")
        return True

    async def compute(self, ctx: Context, period: Period, sections: tuple[str, ...]) -> Report:
        repo, gid = DigestRepo(ctx.app.db), ctx.group.id
        before = period.before()
        wanted = tuple(s for s in sections if self.enabled(ctx, s))
        r = Report(period, wanted)
        if "members" in wanted:
            total = await repo.members_now(gid)
            r.members = await repo.members(gid, period, total)
            r.members_before = await repo.members(gid, before, r.members.at_start)
        if "activity" in wanted:
            r.activity = await repo.activity(gid, period)
            r.activity_before = await repo.activity(gid, before, mau_days=None)
        if "rituals" in wanted:
            r.rituals = await repo.rituals(gid, period, TOP)
            r.rituals_before = await repo.rituals(gid, before, 0)
        if "newcomers" in wanted:
            tasks = [t for t, needs in TASKS if needs is None or ctx.app.has_feature(needs)]
            r.newcomers = await repo.newcomers(
                gid, period, len(tasks) if ctx.app.has_feature("onboarding") else 0
            )
        if "order" in wanted:
            r.order = await repo.order(gid, period)
            r.order_before = await repo.order(gid, before)
        if "needs" in wanted:
            hours = ctx.settings.needs.response_hours
            r.needs = await NeedsRepo(ctx.app.db).stats(
                gid, period.start_ms, min(ctx.now_ms(), period.end_ms + hours * 3_600_000), hours * 3_600_000,
                until_ms=period.end_ms,
            )  # fmt: skip
        if "recall" in wanted:
            days = ctx.settings.recall.return_days
            r.recall = await RecallRepo(ctx.app.db).stats(
                gid, period.start_ms, ctx.now_ms(), days * 86_400_000
            )
        if "campaigns" in wanted:
            r.campaigns = await repo.campaigns(gid, period)
        if "faq" in wanted:
            r.faq = await FaqRepo(ctx.app.db).figures(
                gid, period.start_ms, period.end_ms, top=TOP, misses=REPEATED_MAX
            )
            misses = [(m.key, m.text, m.user_id) for m in r.faq.misses]
            r.faq_repeated = await off_loop(ctx.app, partial(repeated, misses, top=TOP))
        return r

    # --- text ----------------------------------------------------------------------------------------

    def group_name(self, ctx: Context) -> str:
        return ctx.group.title or ctx.group.chat_id

    def arrow(self, ctx: Context, now: float, before: float | None) -> str:
        """Week-over-week: ↑12% / ↓5% / → ; nothing when there is no earlier figure to compare."""
        if before is None:
            return ""
        if before == 0:
            return "" if now == 0 else " ↑"
        change = (now - before) / before
        if abs(change) < 0.005:
            return " →"
        return f" {'↑' if change > 0 else '↓'}{abs(change) * 100:.0f}%"

    def day_name(self, ctx: Context, day: str) -> str:
        d = date.fromisoformat(day)
        return ctx.t(
            "digest.day_label",
            weekday=ctx.t(f"digest.weekday.{WEEKDAYS[d.weekday()]}"),
            md=f"{d.month}/{d.day}",
        )

    def text(self, ctx: Context, r: Report, *, weekly: bool) -> str:
        p = r.period
        key = "digest.title_weekly" if weekly else "digest.title"
        lines = [ctx.t(key, group=self.group_name(ctx), first=p.first, last=p.last, days=p.days)]
        had = len(lines)
        for section in r.sections:
            lines += getattr(self, f"_{section}")(ctx, r)
        if len(lines) == had:
            lines.append(ctx.t("digest.nothing"))
        if weekly:
            lines.append(ctx.t("digest.footer"))
        return "\n".join(lines)

    def _members(self, ctx: Context, r: Report) -> list[str]:
        m, b = r.members, r.members_before
        assert m is not None
        return [
            ctx.t(
                "digest.members",
                total=m.total,
                net=f"{m.net:+d}",
                joined=m.joined,
                joined_arrow=self.arrow(ctx, m.joined, b.joined if b else None),
                left=m.left,
                left_arrow=self.arrow(ctx, m.left, b.left if b else None),
                rate=pct(m.leave_rate),
            )
        ]

    def _activity(self, ctx: Context, r: Report) -> list[str]:
        a, b = r.activity, r.activity_before
        assert a is not None
        if not a.messages and not (b and b.messages):
            return []
        lines = [
            ctx.t(
                "digest.activity",
                messages=a.messages,
                messages_arrow=self.arrow(ctx, a.messages, b.messages if b else None),
                active=a.active,
                active_arrow=self.arrow(ctx, a.active, b.active if b else None),
                dau=f"{a.dau_avg:.1f}",
                wau=a.active,
                mau=a.mau,
                sticky=pct(a.stickiness),
            )
        ]
        peaks = a.peak_hours()
        busiest = a.busiest_day
        if peaks or busiest:
            lines.append(
                ctx.t(
                    "digest.peaks",
                    hours=ctx.join(f"{h:02d}:00–{(h + 1) % 24:02d}:00" for h in peaks) or "—",
                    day=self.day_name(ctx, busiest[0]) if busiest else "—",
                    count=busiest[1] if busiest else 0,
                )
            )
        return lines

    def _rituals(self, ctx: Context, r: Report) -> list[str]:
        x, b = r.rituals, r.rituals_before
        assert x is not None
        if not (x.checkins or x.issued or x.spent):
            return []
        active = r.activity.active if r.activity is not None else None
        rate = (x.checkers / active) if active else None
        lines = [
            ctx.t(
                "digest.rituals",
                checkins=x.checkins,
                checkins_arrow=self.arrow(ctx, x.checkins, b.checkins if b else None),
                checkers=x.checkers,
                rate=pct(rate),
                streak="—" if x.avg_streak is None else f"{x.avg_streak:.1f}",
                issued=x.issued,
                spent=x.spent,
            )
        ]
        if x.top:
            lines.append(
                ctx.t(
                    "digest.top",
                    names=ctx.join(
                        f"{i}. {(name or uid)[:24]} +{points}"
                        for i, (uid, name, points) in enumerate(x.top, 1)
                    ),
                )
            )
        return lines

    def _newcomers(self, ctx: Context, r: Report) -> list[str]:
        n = r.newcomers
        assert n is not None
        parts = []
        if n.joined_before:
            parts.append(
                ctx.t("digest.retention", before=n.joined_before, retained=n.retained, rate=pct(n.retention))
            )
        if n.verified or n.verify_failed:
            parts.append(
                ctx.t(
                    "digest.verified",
                    passed=n.verified,
                    tried=n.verified + n.verify_failed,
                    rate=pct(n.pass_rate),
                )
            )
        if n.joined and ctx.app.has_feature("onboarding"):
            parts.append(
                ctx.t("digest.onboarded", done=n.onboarded, joined=n.joined, rate=pct(n.onboarding_rate))
            )
        return [ctx.t("digest.newcomers", parts=" · ".join(parts))] if parts else []

    def _order(self, ctx: Context, r: Report) -> list[str]:
        o, b = r.order, r.order_before
        assert o is not None
        if not o.cases:
            return [ctx.t("digest.order_quiet")] if b and b.cases else []
        kinds = ctx.join(f"{ctx.t(f'digest.kind.{k}')} {o.by_kind[k]}" for k in CASE_KINDS if o.by_kind[k])
        acts = ctx.join(
            f"{ctx.t(f'digest.action.{a}')} {o.by_action[a]}" for a in CASE_ACTIONS if o.by_action[a]
        )
        return [
            ctx.t(
                "digest.order",
                cases=o.cases,
                arrow=self.arrow(ctx, o.cases, b.cases if b else None),
                kinds=kinds,
                actions=acts or "—",
                handled=o.reports_handled,
                reports=o.reports,
            )
        ]

    def _needs(self, ctx: Context, r: Report) -> list[str]:
        n = r.needs
        assert n is not None
        if not (n.submitted or n.overdue_now):
            return []
        wait = (
            "—"
            if n.median_response_ms is None
            else duration(ctx.lang, timedelta(milliseconds=n.median_response_ms))
        )
        lines = [
            ctx.t(
                "digest.needs",
                submitted=n.submitted,
                median=wait,
                hours=ctx.settings.needs.response_hours,
                within=pct(n.within_deadline),
                loop=pct(n.closed_loop),
                overdue=n.overdue_now,
            )
        ]
        if n.top_open:
            lines.append(
                ctx.t("digest.hot", needs=ctx.join(f"#{x.id} {x.text[:30]} ({x.votes})" for x in n.top_open))
            )
        return lines

    def _recall(self, ctx: Context, r: Report) -> list[str]:
        x = r.recall
        assert x is not None
        nudged = x.nudged
        if not (nudged.settled or nudged.pending or x.holdout.settled):
            return []
        uplift = x.uplift_points
        return [
            ctx.t(
                "digest.recall",
                nudged=nudged.settled + nudged.pending,
                returned=nudged.returned,
                rate=pct(nudged.rate),
                holdout=pct(x.holdout.rate),
                uplift="—" if uplift is None else f"{uplift:+.1f}",
                gifts=x.gifts,
            )
        ]

    def _campaigns(self, ctx: Context, r: Report) -> list[str]:
        c = r.campaigns
        assert c is not None
        if not (c.sent or c.failed):
            return []
        return [ctx.t("digest.campaigns", sent=c.sent, failed=c.failed, presses=c.presses)]

    def _faq(self, ctx: Context, r: Report) -> list[str]:
        f = r.faq
        assert f is not None
        if not (f.answered or f.shown or f.not_answered or r.faq_repeated):
            return []
        lines = [ctx.t("digest.faq", answered=f.answered, shown=f.shown, not_answered=f.not_answered)]
        if f.top:
            lines.append(
                ctx.t("digest.faq_top", entries=ctx.join(f"#{i} {q[:30]} ({n})" for i, q, n in f.top))
            )
        if r.faq_repeated:
            quoted = ctx.join(ctx.t("digest.faq_quote", text=t[:40], askers=n) for t, n in r.faq_repeated)
            lines.append(ctx.t("digest.faq_missing", questions=quoted))
        return lines

    # --- charts --------------------------------------------------------------------------------------

    async def render(self, ctx: Context, r: Report) -> list[tuple[str, str, str]]:
        """The charts as files: (path, file name, caption). A chart that fails is logged and left out."""
        out: list[tuple[str, str, str]] = []
        if r.activity is not None and r.activity.messages:
            labels = charts.HeatmapLabels(
                ctx.t("digest.chart.heat_title", first=r.period.first, last=r.period.last),
                tuple(ctx.t(f"digest.weekday.{d}") for d in WEEKDAYS),
                ctx.t("digest.chart.hour", zone=ctx.settings.timezone),
                ctx.t("digest.chart.messages"),
            )
            out += await self._chart(ctx, "peak-hours", ctx.t("digest.chart.heat_caption"),
                                     charts.render_heatmap, r.activity.heat, labels)  # fmt: skip
        if "members" in r.sections or "activity" in r.sections:
            days = max(CHART_DAYS, r.period.days)
            span = Period.ending(date.fromisoformat(r.period.last), days, r.period.zone)
            repo = DigestRepo(ctx.app.db)
            active = await repo.daily_active(ctx.group.id, span)
            moves = await repo.daily_joins_leaves(ctx.group.id, span)
            if any(active.values()) or any(j or lv for j, lv in moves.values()):
                day_list = span.day_list()
                labels2 = charts.DailyLabels(
                    ctx.t("digest.chart.daily_title", days=days),
                    ctx.t("digest.chart.active"),
                    ctx.t("digest.chart.joins"),
                    ctx.t("digest.chart.leaves"),
                )
                out += await self._chart(
                    ctx, "daily", ctx.t("digest.chart.daily_caption", days=days), charts.render_daily,
                    day_list, [active[d] for d in day_list], [moves[d][0] for d in day_list],
                    [moves[d][1] for d in day_list], labels2,
                )  # fmt: skip
        return out

    async def _chart(
        self, ctx: Context, stem: str, caption: str, fn: Callable[..., bytes], *args: Any
    ) -> list[tuple[str, str, str]]:
        try:
            png = await off_loop(ctx.app, fn, *args)
            path = ctx.app.files.new_path(f"{stem}-{ctx.group.id}", ".png")
            await off_loop(ctx.app, path.write_bytes, png)
        except Exception:
            log.exception(
                "the %s chart of group %s failed to render; the text goes without it", stem, ctx.group.id
            )
            return []
        return [(str(path), f"{stem}.png", caption)]
