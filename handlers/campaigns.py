"""Scheduled campaigns and the activity calendar (活动日历): posts an operator schedules in their own words,
fired by the core scheduler (APScheduler's triggers, the group's timezone), once each, through restarts.

A fire is one unit of work: its row (unique on the campaign and the scheduled time) and its post commit
together and the post goes out after the commit, so a restart mid-fire never posts twice. After
downtime a fire missed by up to `campaigns.grace_minutes` is sent once, late; older ones are skipped and
the admin log says so; many missed fires of one campaign become at most one.
"""

from __future__ import annotations

import heapq
import re
import string
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict

from bot import actions as A
from bot.actions import Button, keyboard
from bot.clock import from_ms, to_ms
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import ButtonPressed, Event
from bot.feature import Feature, JobFunc
from bot.parsing import REST, parse_int
from bot.text import placeholder_problem
from bot.when import Schedule, WhenError, min_gap, normalize, parse_when
from handlers.points import period_key
from storage.campaigns import Campaign, CampaignRepo
from storage.checkins import CheckinRepo
from storage.jobs import JobRecord
from storage.needs import NeedsRepo
from storage.points import PointsRepo

if TYPE_CHECKING:
    from bot.app import App

PLACEHOLDERS = ("date", "weekday", "group", "members", "top3", "checkins_today", "needs_top")
MAX_TEXT = 2000
FAILURES_TO_PAUSE = 3
OPTION_WORDS = {"pin": "pin", "置顶": "pin", "replace": "replace", "替换": "replace", "checkin": "checkin",
                "签到按钮": "checkin", "needs": "needs", "需求按钮": "needs", "here": "here", "本频道": "here"}  # fmt: skip
LINK = re.compile(r"(?:link|链接)=(https?://[^\s<>\"']{1,200})$", re.I)
CAL_SHOWN = 80  # /calendar lists this many entries
CAL_COUNTED = 1000  # and counts the ones after them up to this ("1000+")
CAL_BUDGET_S = 0.2  # seconds /calendar may spend working out fire times, whatever the schedules
# A staged campaign (预热 → 爆发 → 返场): stage, offset from the event, the template key.
STAGES = (("warmup1", timedelta(days=-3)), ("warmup2", timedelta(days=-1)), ("peak", timedelta()),
          ("encore", timedelta(days=1)))  # fmt: skip


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rest: Annotated[str, REST] = ""


def job_id(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


def schedule_of(c: Campaign) -> Schedule:
    return Schedule(c.trigger_type, c.trigger_args)


def latest_fire(schedule: Schedule, at: datetime, lookback: timedelta) -> datetime | None:
    """The last scheduled time at or before `at` (within `lookback`): the fire being made, or missed."""
    last = None
    for when in schedule.fires(at - lookback):
        if when > at:
            break
        last = when
    return last


class CampaignsFeature(Feature):
    name = "campaigns"
    settings_section = "campaigns"
    priority = 96

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "campaign", self.campaign_cmd, Args, aliases=("活动",), admin_only=True, feature=self.name
            ),
            CommandSpec("calendar", self.calendar_cmd, Args, aliases=("活动日历",), feature=self.name),
        ]

    def jobs(self) -> dict[str, JobFunc]:
        return {"fire": self.fire_job}

    # --- words ---------------------------------------------------------------------------------------

    def when_words(self, ctx: Context, c: Campaign) -> str:
        return c.schedule_text

    def local(self, ctx: Context, when: datetime) -> str:
        weekday = ctx.t(f"campaign.weekday.{when.astimezone(ctx.zone).weekday()}")
        return when.astimezone(ctx.zone).strftime("%Y-%m-%d %H:%M") + f" {weekday}"

    def next_fire(self, ctx: Context, c: Campaign) -> datetime | None:
        if c.state != "active":
            return None
        return ctx.app.scheduler.next_fire(job_id(c.id))

    # --- /campaign -----------------------------------------------------------------------------------

    async def campaign_cmd(self, ctx: Context, args: Args) -> None:
        head, _, rest = args.rest.strip().partition(" ")
        head, rest = head.lower(), rest.strip()
        handlers = {
            "add": self.add, "添加": self.add, "list": self.list_, "列表": self.list_, "show": self.show,
            "查看": self.show, "pause": self.pause, "暂停": self.pause, "resume": self.resume, "恢复": self.resume,
            "delete": self.delete, "删除": self.delete, "test": self.test, "测试": self.test, "edit": self.edit,
            "修改": self.edit, "event": self.event, "活动": self.event, "stats": self.stats, "统计": self.stats,
        }  # fmt: skip
        handler = handlers.get(head or "list")
        if handler is None:
            await self.usage(ctx)
            return
        await handler(ctx, rest)

    async def usage(self, ctx: Context, detail: str = "") -> None:
        text = ctx.t("common.usage", usage=ctx.t("cmd.campaign.usage"))
        await ctx.reply("\n".join(x for x in (detail, text) if x), ephemeral=True)

    def read_when(self, ctx: Context, text: str) -> tuple[Schedule, str, str]:
        """(schedule, the <when> as written, the rest); raises WhenError."""
        schedule, rest = parse_when(text, ctx.now(), ctx.settings.timezone)
        cleaned = normalize(text).strip()
        written = cleaned[: len(cleaned) - len(rest)].strip()
        if not schedule.ever_fires(ctx.now()):  # bounded: looks nine years ahead, not to 9999
            raise WhenError("never", written)  # cron "0 20 31 2 *": there is no 31 February
        gap = min_gap(schedule, ctx.now())
        if gap is not None and gap < timedelta(minutes=ctx.settings.campaigns.min_interval_minutes):
            raise WhenError("too_often", written)
        return schedule, written, rest.strip()

    def read_options(self, ctx: Context, rest: str) -> tuple[dict[str, Any], str]:
        """Option words right after the time: pin, replace, checkin, needs, here, link=https://…"""
        options: dict[str, Any] = {}
        words = rest.split(" ")
        while words and (OPTION_WORDS.get(words[0].lower()) or LINK.match(words[0])):
            word = words.pop(0)
            if m := LINK.match(word):
                options["link"] = m.group(1)
                continue
            option = OPTION_WORDS[word.lower()]
            if option == "here":
                if ctx.event is not None and ctx.event.channel:
                    options["channel"] = ctx.event.channel
            else:
                options[option] = True
        return options, " ".join(words).strip()

    async def when_refused(self, ctx: Context, err: WhenError) -> None:
        detail = ctx.t(
            f"campaign.when.{err.code}",
            fragment=err.fragment,
            minutes=ctx.settings.campaigns.min_interval_minutes,
        )
        await ctx.reply(detail + "\n" + ctx.t("campaign.when_help"), ephemeral=True)

    async def check_text(self, ctx: Context, text: str) -> bool:
        if not text:
            await self.usage(ctx, ctx.t("campaign.no_text"))
            return False
        if len(text) > MAX_TEXT:
            await ctx.reply(ctx.t("campaign.too_long", limit=MAX_TEXT), ephemeral=True)
            return False
        if (bad := placeholder_problem(text, PLACEHOLDERS)) is not None:
            allowed = " ".join("{" + p + "}" for p in PLACEHOLDERS)
            await ctx.reply(
                ctx.t("campaign.bad_placeholder", placeholder=bad[:40], allowed=allowed), ephemeral=True
            )
            return False
        return True

    async def add(self, ctx: Context, rest: str) -> None:
        assert ctx.event is not None
        s, repo = ctx.settings.campaigns, CampaignRepo(ctx.app.db)
        if not rest:
            await self.usage(ctx)
            return
        try:
            schedule, written, after = self.read_when(ctx, rest)
        except WhenError as err:
            await self.when_refused(ctx, err)
            return
        options, text = self.read_options(ctx, after)
        if not await self.check_text(ctx, text):
            return
        if await repo.count(ctx.group.id) >= s.max_per_group:
            await ctx.reply(ctx.t("campaign.too_many", limit=s.max_per_group), ephemeral=True)
            return
        cid = await repo.add(
            ctx.group.id,
            text,
            schedule.kind,
            schedule.args,
            written,
            options,
            ctx.event.user.user_id,
            ctx.now_ms(),
        )
        await self.arm(ctx, cid, schedule)
        fires = schedule.next_fires(ctx.now(), 3)
        lines = [ctx.t("campaign.added", id=cid, when=written)]
        lines += [ctx.t("campaign.next_line", when=self.local(ctx, f)) for f in fires]
        if options:
            lines.append(ctx.t("campaign.options", options=self.options_text(ctx, options)))
        await ctx.reply("\n".join(lines))

    async def arm(self, ctx: Context, cid: int, schedule: Schedule) -> None:
        await ctx.app.scheduler.add(
            JobRecord(
                job_id(cid),
                f"{self.name}.fire",
                schedule.kind,
                schedule.args,
                ctx.group.id,
                {"campaign": cid},
            )
        )

    def options_text(self, ctx: Context, options: dict[str, Any]) -> str:
        keys = ("pin", "replace", "checkin", "needs", "link", "channel")
        return ctx.join(ctx.t(f"campaign.option.{k}") for k in keys if options.get(k))

    async def find(self, ctx: Context, ref: str) -> Campaign | None:
        cid = parse_int(ref.split(" ")[0].removeprefix("#"), 1) if ref else None
        found = None if cid is None else await CampaignRepo(ctx.app.db).get(ctx.group.id, cid)
        if found is None:
            await ctx.reply(ctx.t("campaign.not_found", ref=ref.split(" ")[0][:20] or "?"), ephemeral=True)
        return found

    async def list_(self, ctx: Context, _rest: str) -> None:
        campaigns = await CampaignRepo(ctx.app.db).of_group(ctx.group.id, live_only=True)
        if not campaigns:
            await ctx.reply(ctx.t("campaign.none"))
            return
        lines = [ctx.t("campaign.list_title", count=len(campaigns))]
        for c in campaigns:
            nxt = self.next_fire(ctx, c)
            lines.append(
                ctx.t(
                    "campaign.list_line",
                    id=c.id,
                    when=c.schedule_text,
                    next=self.local(ctx, nxt) if nxt else "—",
                    state=ctx.t(f"campaign.state.{c.state}"),
                    text=_excerpt(c.text),
                )
                + (f" · {c.event}/{ctx.t(f'campaign.stage.{c.stage}')}" if c.event else "")
            )
        await ctx.reply("\n".join(lines))

    async def show(self, ctx: Context, rest: str) -> None:
        c = await self.find(ctx, rest)
        if c is None:
            return
        st = await CampaignRepo(ctx.app.db).stats(c.id)
        fires = schedule_of(c).next_fires(ctx.now(), 3) if c.state == "active" else []
        lines = [
            ctx.t(
                "campaign.show_title", id=c.id, when=c.schedule_text, state=ctx.t(f"campaign.state.{c.state}")
            ),
            c.text,
            *(ctx.t("campaign.next_line", when=self.local(ctx, f)) for f in fires),
            ctx.t(
                "campaign.stats_line", sent=st.sent, failed=st.failed, skipped=st.skipped, presses=st.presses
            ),
        ]
        if c.options.get("checkin"):
            checkins = await CampaignRepo(ctx.app.db).checkins_after(c.id)
            lines.append(ctx.t("campaign.stats_checkins", count=checkins))
        if c.options:
            lines.append(ctx.t("campaign.options", options=self.options_text(ctx, c.options)))
        await ctx.reply("\n".join(lines))

    async def stats(self, ctx: Context, rest: str) -> None:
        c = await self.find(ctx, rest)
        if c is None:
            return
        st = await CampaignRepo(ctx.app.db).stats(c.id)
        lines = [ctx.t("campaign.stats_title", id=c.id, when=c.schedule_text)]
        lines.append(
            ctx.t(
                "campaign.stats_line", sent=st.sent, failed=st.failed, skipped=st.skipped, presses=st.presses
            )
        )
        if c.options.get("checkin"):
            lines.append(
                ctx.t("campaign.stats_checkins", count=await CampaignRepo(ctx.app.db).checkins_after(c.id))
            )
        if st.last_reason:
            lines.append(ctx.t("campaign.stats_reason", reason=st.last_reason))
        await ctx.reply("\n".join(lines))

    async def pause(self, ctx: Context, rest: str) -> None:
        c = await self.find(ctx, rest)
        if c is None:
            return
        await CampaignRepo(ctx.app.db).set_state(ctx.group.id, c.id, "paused")
        await ctx.app.scheduler.remove(job_id(c.id))
        await ctx.reply(ctx.t("campaign.paused", id=c.id))

    async def resume(self, ctx: Context, rest: str) -> None:
        c = await self.find(ctx, rest)
        if c is None:
            return
        schedule = schedule_of(c)
        if not schedule.ever_fires(ctx.now()):
            await ctx.reply(ctx.t("campaign.nothing_ahead", id=c.id), ephemeral=True)
            return
        await CampaignRepo(ctx.app.db).set_state(ctx.group.id, c.id, "active")
        await self.arm(ctx, c.id, schedule)
        nxt = ctx.app.scheduler.next_fire(job_id(c.id))
        await ctx.reply(ctx.t("campaign.resumed", id=c.id, next=self.local(ctx, nxt) if nxt else "—"))

    async def delete(self, ctx: Context, rest: str) -> None:
        c = await self.find(ctx, rest)
        if c is None:
            return
        repo = CampaignRepo(ctx.app.db)
        together = await repo.stages(ctx.group.id, c.event) if c.event else [c]
        for one in together:
            await ctx.app.scheduler.remove(job_id(one.id))
            await repo.delete(ctx.group.id, one.id)
        await ctx.reply(ctx.t("campaign.deleted", ids=", ".join(f"#{x.id}" for x in together)))

    async def test(self, ctx: Context, rest: str) -> None:
        c = await self.find(ctx, rest)
        if c is None:
            return
        assert ctx.event is not None
        text = ctx.t("campaign.test", id=c.id, text=await self.render(ctx, c.text))
        admin, platform = ctx.event.user.user_id, ctx.group.platform
        reachable = await ctx.app.dms.may_dm(ctx.app.outbox, platform, [admin])
        if admin in reachable:  # "ephemeral" is an ordinary group message on Telegram: privately, if possible
            await ctx.dm(admin, text, self.buttons(ctx, c.options))
            await ctx.reply(ctx.t("campaign.test_sent"), ephemeral=True)
        else:
            await ctx.reply(text, self.buttons(ctx, c.options), ephemeral=True)

    async def edit(self, ctx: Context, rest: str) -> None:
        c = await self.find(ctx, rest)
        if c is None:
            return
        _ref, _, tail = rest.partition(" ")
        what, _, value = tail.strip().partition(" ")
        what, value, repo = what.lower(), value.strip(), CampaignRepo(ctx.app.db)
        if what in ("text", "内容"):
            if not await self.check_text(ctx, value):
                return
            await repo.update(ctx.group.id, c.id, text=value)
        elif what in ("when", "时间"):
            try:
                schedule, written, _ = self.read_when(ctx, value)
            except WhenError as err:
                await self.when_refused(ctx, err)
                return
            await repo.update(
                ctx.group.id,
                c.id,
                trigger_type=schedule.kind,
                trigger_args=schedule.args,
                schedule_text=written,
            )
            if c.state != "done":
                await repo.set_state(ctx.group.id, c.id, "active")
                await self.arm(ctx, c.id, schedule)
        elif what in ("options", "选项"):
            options, _ = self.read_options(ctx, value)
            await repo.update(ctx.group.id, c.id, options=options)
        else:
            await self.usage(ctx)
            return
        await ctx.reply(ctx.t("campaign.edited", id=c.id))

    async def event(self, ctx: Context, rest: str) -> None:
        """/campaign event <name> <date time>: warm-up at T−3 d and T−1 d, the peak at T, an encore at T+1 d."""
        assert ctx.event is not None
        name, _, when = rest.partition(" ")
        if not name or not when.strip():
            await self.usage(ctx)
            return
        try:
            schedule, _rest = parse_when(when, ctx.now(), ctx.settings.timezone)
        except WhenError as err:
            await self.when_refused(ctx, err)
            return
        if schedule.kind != "date":
            await ctx.reply(ctx.t("campaign.event_once"), ephemeral=True)
            return
        repo = CampaignRepo(ctx.app.db)
        if await repo.stages(ctx.group.id, name[:40]):
            await ctx.reply(ctx.t("campaign.event_exists", name=name[:40]), ephemeral=True)
            return
        if await repo.count(ctx.group.id) + len(STAGES) > ctx.settings.campaigns.max_per_group:
            await ctx.reply(
                ctx.t("campaign.too_many", limit=ctx.settings.campaigns.max_per_group), ephemeral=True
            )
            return
        peak = datetime.fromisoformat(schedule.args["run_at"])
        lines = [ctx.t("campaign.event_added", name=name[:40])]
        for stage, offset in STAGES:
            at = peak + offset
            if at <= ctx.now():
                continue  # a warm-up already behind us
            stage_schedule = Schedule("date", {"run_at": at.isoformat(), "timezone": ctx.settings.timezone})
            text = ctx.t(f"campaign.stage_text.{stage}", name=name[:40], when=self.local(ctx, peak))
            written = at.astimezone(ctx.zone).strftime("%Y-%m-%d %H:%M")
            cid = await repo.add(
                ctx.group.id, text, "date", stage_schedule.args, written, {"pin": stage == "peak"},
                ctx.event.user.user_id, ctx.now_ms(), event=name[:40], stage=stage,
            )  # fmt: skip
            await self.arm(ctx, cid, stage_schedule)
            lines.append(
                ctx.t(
                    "campaign.event_line",
                    id=cid,
                    stage=ctx.t(f"campaign.stage.{stage}"),
                    when=self.local(ctx, at),
                )
            )
        lines.append(ctx.t("campaign.event_hint"))
        await ctx.reply("\n".join(lines))

    # --- /calendar -----------------------------------------------------------------------------------

    async def calendar_cmd(self, ctx: Context, args: Args) -> None:
        days = parse_int(args.rest.strip(), 1, 31) if args.rest.strip() else 7
        if days is None:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.calendar.usage")), ephemeral=True)
            return
        now, until = ctx.now(), ctx.now() + timedelta(days=days)
        campaigns = [
            c for c in await CampaignRepo(ctx.app.db).of_group(ctx.group.id, live_only=True) if c.state == "active"
        ]
        entries, more, exact = calendar_entries(
            [(schedule_of(c), ctx.t("campaign.cal_post", id=c.id, text=_excerpt(c.text, 30))) for c in campaigns],
            now,
            until,
        )
        entries = sorted(entries + self.system_entries(ctx, now, until), key=lambda e: e[0])
        if not entries:
            await ctx.reply(ctx.t("campaign.cal_empty", days=days))
            return
        more += max(0, len(entries) - CAL_SHOWN)
        lines, day = [ctx.t("campaign.cal_title", days=days)], ""
        for when, what in entries[:CAL_SHOWN]:
            local = when.astimezone(ctx.zone)
            this_day = local.strftime("%m-%d") + " " + ctx.t(f"campaign.weekday.{local.weekday()}")
            if this_day != day:
                day = this_day
                lines.append(f"📅 {day}")
            lines.append(f"  {local:%H:%M} {what}")
        if more:
            lines.append(ctx.t("campaign.cal_more", count=more if exact else f"{more}+"))
        await ctx.reply("\n".join(lines))

    def system_entries(self, ctx: Context, now: datetime, until: datetime) -> list[tuple[datetime, str]]:
        """What members notice from the bot's own jobs: the streak reminder, the recall scan."""
        out: list[tuple[datetime, str]] = []
        s = ctx.settings
        daily = []
        if ctx.app.has_feature("checkin") and s.checkin.enabled:
            daily.append((s.checkin.reminder_hour, ctx.t("campaign.cal_reminder")))
        if ctx.app.has_feature("recall") and s.recall.enabled:
            daily.append((s.recall.hour, ctx.t("campaign.cal_recall")))
        for hour, what in daily:
            schedule = Schedule("cron", {"hour": hour, "minute": 0, "timezone": s.timezone})
            for when in schedule.fires(now):
                if when > until:
                    break
                out.append((when, what))
        return out

    # --- firing --------------------------------------------------------------------------------------

    async def on_start(self, app: App) -> None:
        """Fires missed while the bot was down: the latest of each campaign is looked at once (sent late
        within the grace, else skipped and reported); the scheduler re-arms the rest from now."""
        now = app.clock.now()
        repo = CampaignRepo(app.db)
        for c in await repo.active():
            armed = app.scheduler.armed(job_id(c.id))
            if c.trigger_type == "date" or armed is None:
                continue  # a one-off is fired late by the scheduler itself
            job, trigger = armed
            since = from_ms(max(job.last_run_ms or 0, c.created_at))
            following = trigger.get_next_fire_time(None, since + timedelta(seconds=1))
            if following is None or following > now:
                continue  # nothing was due since it last ran: one trigger computation, not a walk
            ctx = await app.context_for_group(c.group_id)
            if ctx is None:
                continue
            grace = timedelta(minutes=ctx.settings.campaigns.grace_minutes)
            missed = latest_fire(schedule_of(c), now, max(grace, timedelta(hours=1)) + timedelta(days=1))
            last = await repo.last_due(c.id)
            if missed is None or to_ms(missed) <= max(last or 0, c.created_at):
                continue
            payload = {"campaign": c.id, "due": missed.isoformat()}
            await app.scheduler.add(
                JobRecord(
                    f"{job_id(c.id)}:late",
                    f"{self.name}.fire",
                    "date",
                    {"run_at": now.isoformat()},
                    c.group_id,
                    payload,
                )
            )

    async def fire_job(self, app: App, ctx: Context | None, job: JobRecord) -> None:
        if ctx is None:
            return
        repo = CampaignRepo(app.db)
        c = await repo.get(ctx.group.id, int(job.payload["campaign"]))
        if c is None or c.state != "active" or not ctx.settings.campaigns.enabled:
            return
        now = ctx.now()
        grace = timedelta(minutes=ctx.settings.campaigns.grace_minutes)
        if "due" in job.payload:  # a fire missed while the bot was down (on_start)
            due: datetime | None = datetime.fromisoformat(job.payload["due"])
        elif c.trigger_type == "date":
            due = datetime.fromisoformat(c.trigger_args["run_at"])
        else:
            due = latest_fire(schedule_of(c), now, max(grace, timedelta(hours=1)) + timedelta(days=1))
        if due is None:
            return
        if c.trigger_type == "date":
            await repo.set_state(ctx.group.id, c.id, "done")
        if now - due > grace:
            if await repo.fire(c.id, to_ms(due), ctx.now_ms(), "skipped") is not None:
                text = ctx.t("campaign.skipped", id=c.id, when=self.local(ctx, due), text=_excerpt(c.text))
                await app.emit(ctx, "admins.notice", text=text)
            return
        post_id = await repo.fire(c.id, to_ms(due), ctx.now_ms())
        if post_id is None:
            return  # this scheduled time was posted already (a restart, a second fire)
        if c.options.get("replace") and c.last_message_id:
            await ctx.act(A.Delete(chat=ctx.chat, message_id=c.last_message_id))
        buttons = self.buttons(ctx, c.options)
        text = await self.render(ctx, c.text, when=due)
        channel = c.options.get("channel")
        await ctx.act(
            A.Send(chat=ctx.chat, text=text, buttons=buttons, channel=channel),
            remember=f"{self.name}:{post_id}",
        )

    def buttons(self, ctx: Context, options: dict[str, Any]) -> A.Keyboard:
        row = []
        if options.get("checkin"):
            row.append(Button(ctx.t("checkin.button"), "checkin:do"))
        if options.get("needs") and ctx.app.has_feature("needs"):
            row.append(Button(ctx.t("campaign.needs_button"), "needs:b"))
        if options.get("link"):
            row.append(Button(ctx.t("campaign.link_button"), A.URL_PREFIX + options["link"]))
        return keyboard(row) if row else ()

    async def on_sent(self, app: App, payload: str, result: A.ActionResult) -> None:
        post_id = parse_int(payload, 1)
        if post_id is None:
            return
        repo = CampaignRepo(app.db)
        if result.ok:
            done = await repo.sent(post_id, result.message_id)
            if done is None:
                return
            c, before = done
            if c.options.get("pin") and result.message_id:
                ctx = await app.context_for_group(c.group_id)
                if ctx is not None:
                    # queued in the unit that records the post as sent (bot/unit.py `_remembered`): sent
                    # after its commit, never awaited inside it, and a kill after it still pins once
                    await ctx.act(A.Pin(chat=ctx.chat, message_id=result.message_id))
                    if before and not c.options.get("replace"):
                        await ctx.act(A.Pin(chat=ctx.chat, message_id=before, pinned=False))
            return
        c = await repo.failed(post_id, f"{result.failure or 'failed'}: {result.detail}"[:200])
        if c is None or c.failures < FAILURES_TO_PAUSE or c.state != "active":
            return
        await repo.set_state(c.group_id, c.id, "paused")
        await app.scheduler.remove(job_id(c.id))
        ctx = await app.context_for_group(c.group_id)
        if ctx is not None:
            reason = str(result.failure or "failed")
            await app.emit(
                ctx,
                "admins.notice",
                text=ctx.t("campaign.self_paused", id=c.id, count=c.failures, reason=reason),
            )

    async def on_active(self, ctx: Context, event: Event) -> None:
        if isinstance(event, ButtonPressed) and event.message_id:
            await CampaignRepo(ctx.app.db).pressed(ctx.group.id, event.message_id)

    # --- the post ------------------------------------------------------------------------------------

    async def render(self, ctx: Context, text: str, when: datetime | None = None) -> str:
        local = (when or ctx.now()).astimezone(ctx.zone)
        values: dict[str, str] = {
            "date": local.strftime("%Y-%m-%d"),
            "weekday": ctx.t(f"campaign.weekday.{local.weekday()}"),
            "group": ctx.group.title or ctx.group.chat_id,
        }
        fields = {f for _l, f, _s, _c in string.Formatter().parse(text) if f}
        if "members" in fields:
            values["members"] = str(await ctx.app.members.count_active(ctx.group.id))
        if "top3" in fields:
            week = period_key(local.date(), "week")
            top = await PointsRepo(ctx.app.db).top(ctx.group.id, week, 3)
            names = []
            for user_id, earned in top:
                member = await ctx.app.members.get(ctx.group.id, user_id)
                names.append(f"{member.name if member else user_id} ({earned})")
            values["top3"] = ctx.join(names) or ctx.t("campaign.nobody_yet")
        if "checkins_today" in fields:
            values["checkins_today"] = str(
                await CheckinRepo(ctx.app.db).count_on(ctx.group.id, local.date().isoformat())
            )
        if "needs_top" in fields:
            found, _ = await NeedsRepo(ctx.app.db).browse(ctx.group.id, "top", "", 1, 0)
            values["needs_top"] = (
                f"#{found[0].id} {_excerpt(found[0].text, 40)}" if found else ctx.t("campaign.nobody_yet")
            )
        return text.format_map({k: values.get(k, "") for k in PLACEHOLDERS})


def calendar_entries(
    schedules: list[tuple[Schedule, str]], now: datetime, until: datetime
) -> tuple[list[tuple[datetime, str]], int, bool]:
    """The first CAL_SHOWN fires of all the schedules between `now` and `until`, in time order, and how
    many more there are (counted up to CAL_COUNTED), and whether that count is exact. Bounded whatever members ask and admins schedule:
    the schedules are merged lazily (a heap of each one's next fire), so 500 campaigns every ten
    minutes over 31 days cost CAL_SHOWN + CAL_COUNTED fire computations, not 2.2 million; and a
    deadline stops the walk (the rest is counted as more) should the computations themselves be slow."""
    deadline = time.monotonic() + CAL_BUDGET_S
    heap: list[tuple[datetime, int, str, Iterator[datetime]]] = []
    for i, (schedule, what) in enumerate(schedules):
        fires = schedule.fires(now, until)
        first = next(fires, None)
        if first is not None:
            heap.append((first, i, what, fires))
        if time.monotonic() > deadline:
            break
    heapq.heapify(heap)
    shown: list[tuple[datetime, str]] = []
    more = 0
    while heap and more < CAL_COUNTED and time.monotonic() <= deadline:
        when, i, what, fires = heap[0]
        if len(shown) < CAL_SHOWN:
            shown.append((when, what))
        else:
            more += 1
        following = next(fires, None)
        if following is None:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (following, i, what, fires))
    return shown, more, not heap


def _excerpt(text: str, limit: int = 40) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"
