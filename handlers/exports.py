"""/export members|ledger|needs|cases|activity [7d|30d|90d|all]: the raw figures as a CSV file for the
operator's own spreadsheet, sent to the admin by DM (or into the admin log where DMs are closed).

The file is UTF-8 with a BOM, so Excel opens Chinese names correctly; it is written page by page
(storage/exports.py), so a 100,000-member group never sits in memory whole. Member-controlled text is
hostile here too: a name starting with = + - @ would run as a formula in a spreadsheet, so such cells
are prefixed with an apostrophe. An export never goes into the group itself: it names members.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, time, timedelta
from typing import IO, TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from bot import actions as A
from bot.clock import from_ms, to_ms
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import ChatRef
from bot.feature import Feature, JobFunc
from bot.markup import mention
from bot.parsing import REST, tokenize
from bot.unit import off_loop
from storage.exports import (
    ACTIVITY_COLUMNS,
    CASE_COLUMNS,
    LEDGER_COLUMNS,
    MEMBER_COLUMNS,
    NEED_COLUMNS,
    TIME_COLUMNS,
    ExportRepo,
)
from storage.jobs import JobRecord
from storage.moderation import LogTarget, ModerationRepo

if TYPE_CHECKING:
    from bot.app import App

KINDS = {
    "members": "members",
    "ledger": "ledger",
    "points": "ledger",
    "needs": "needs",
    "cases": "cases",
    "moderation": "cases",
    "activity": "activity",
    "成员": "members",
    "积分": "ledger",
    "流水": "ledger",
    "需求": "needs",
    "处罚": "cases",
    "案件": "cases",
    "活跃": "activity",
}
COLUMNS = {
    "members": MEMBER_COLUMNS,
    "ledger": LEDGER_COLUMNS,
    "needs": NEED_COLUMNS,
    "cases": CASE_COLUMNS,
    "activity": ACTIVITY_COLUMNS,
}
WINDOWS = {"7d": 7, "30d": 30, "90d": 90, "all": None, "7天": 7, "30天": 30, "90天": 90, "全部": None}
DEFAULT_DAYS = 30
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rest: Annotated[str, REST] = ""


def cell(value: Any) -> Any:
    """A text cell that cannot run as a spreadsheet formula: spreadsheets skip leading blanks before
    a formula's sign (" =HYPERLINK(…)" runs), so the sign is looked for after any leading whitespace."""
    if isinstance(value, str) and (value.startswith(FORMULA_START) or value.lstrip().startswith(FORMULA_START)):
        return "'" + value
    return value


def private_log(target: LogTarget | None, group: ChatRef) -> LogTarget | None:
    """The admin log as a place for member data: not when it is the group itself (any place in it, a
    topic or a channel), where members would read the file."""
    if target is None or target.chat_id == group.chat_id:
        return None
    return target


class ExportsFeature(Feature):
    name = "exports"
    priority = 98

    def jobs(self) -> dict[str, JobFunc]:
        return {"run": self.run_job}

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "export", self.export_cmd, Args, aliases=("导出",), admin_only=True, feature=self.name
            )
        ]

    async def export_cmd(self, ctx: Context, args: Args) -> None:
        kind, days, bad = None, DEFAULT_DAYS, False
        for token in tokenize(args.rest):
            word = token.text.lower()
            if word in KINDS and kind is None:
                kind = KINDS[word]
            elif word in WINDOWS:
                days = WINDOWS[word]
            else:
                bad = True
        if kind is None or bad:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.export.usage")), ephemeral=True)
            return
        assert ctx.event is not None
        app, uid = ctx.app, ctx.event.user.user_id
        platform = ctx.group.platform
        # Where DMs are tried rather than opted into, an admin asking for a file is always tried (a
        # refusal remembered from long ago must not stop one who has opened their DMs since); a
        # refusal now is told in on_sent. Never into the group: a log that is the group does not count.
        by_dm = not app.outbox.dm_opt_in(platform) or uid in await app.dms.may_dm(app.outbox, platform, [uid])
        log_target = private_log(await ModerationRepo(app.db).log_target(ctx.group.id), ctx.chat)
        if not by_dm and log_target is None:
            await ctx.reply(ctx.t("export.nowhere", how=self.how_to_open(ctx)), ephemeral=True)
            return
        # The file is written by a job of its own: a 1,000,000-row ledger takes seconds, and the group's
        # other messages must not wait behind it. The job is stored, so a restart still delivers.
        payload = {"kind": kind, "days": days, "user": uid, "dm": by_dm}
        job_id = f"export:{ctx.group.id}:{ctx.event.event_key}"
        await app.scheduler.add(
            JobRecord(
                job_id, f"{self.name}.run", "date", {"run_at": ctx.now().isoformat()}, ctx.group.id, payload
            )
        )
        await ctx.reply(
            ctx.t("export.started_dm" if by_dm else "export.started_log", kind=ctx.t(f"export.kind.{kind}"))
        )

    async def run_job(self, app: App, ctx: Context | None, job: JobRecord) -> None:
        if ctx is None:
            return
        kind, days, uid = str(job.payload["kind"]), job.payload["days"], str(job.payload["user"])
        log_target = private_log(await ModerationRepo(app.db).log_target(ctx.group.id), ctx.chat)
        # Every earlier message counted, in a transaction of its own: a plain flush here would open this
        # job's unit and hold the write lock while the file is written (seconds for a big ledger). The
        # unit opens at the file's send, which commits with the job's row removal (bot/app.py), so a
        # kill after that commit does not make the file again.
        await ctx.settle_apart()
        path = app.files.new_path(f"{kind}-{ctx.group.id}", ".csv")
        rows = await self.write(ctx, kind, days, str(path))
        window = (
            ctx.t("export.window_all")
            if days is None or kind == "members"
            else ctx.t("export.window", days=days)
        )
        caption = ctx.t(
            "export.caption",
            kind=ctx.t(f"export.kind.{kind}"),
            group=ctx.group.title or ctx.group.chat_id,
            rows=rows,
            window=window,
        )
        name = f"qunbot-{kind}-{ctx.today()}.csv"
        log_file = (
            A.SendFile(
                chat=ChatRef(ctx.group.platform, log_target.chat_id),
                path=str(path),
                filename=name,
                caption=caption,
                channel=log_target.channel,
            )
            if log_target is not None
            else None
        )
        if job.payload.get("dm"):
            remember = f"{self.name}:{ctx.group.id}:{uid}"  # a refusal is told to the admin (on_sent)
            await ctx.send_file(str(path), name, caption, user_id=uid, fallback=log_file, remember=remember)
        elif log_file is not None:
            await ctx.act(log_file)

    @staticmethod
    def how_to_open(ctx: Context) -> str:
        """How the admin opens a DM with the bot, by the platform's kind of DMs (never its name)."""
        return ctx.t("export.open_dm_start" if ctx.app.outbox.dm_opt_in(ctx.chat.platform) else "export.open_dm")

    async def on_sent(self, app: App, payload: str, result: A.ActionResult) -> None:
        """The export's DM: learn whether DMs are open, and when neither it nor a private log took the
        file, tell the admin in the group how to open one (the file itself never goes there)."""
        group_ref, _, uid = payload.partition(":")
        ctx = await app.context_for_group(int(group_ref))
        if ctx is None:
            return
        now = to_ms(app.clock.now())
        if result.ok and not result.extra.get("dm_refused"):
            await app.dms.opened(ctx.group.platform, uid, now)
            return
        await app.dms.learn(ctx.group.platform, uid, result, now)
        if not result.ok:
            member = await app.members.get(ctx.group.id, uid)
            who = mention(uid, member.name if member else uid)
            await ctx.send(ctx.t("export.dm_refused", mention=who, how=self.how_to_open(ctx)))

    async def write(self, ctx: Context, kind: str, days: int | None, path: str) -> int:
        """Stream the rows into a UTF-8 (BOM) CSV at `path`; returns how many data rows it holds."""
        repo, gid = ExportRepo(ctx.app.db), ctx.group.id
        columns = COLUMNS[kind]
        zone = ctx.zone
        today = date.fromisoformat(ctx.today())
        since_day = "0000-00-00" if days is None else (today - timedelta(days=days - 1)).isoformat()
        since_ms = 0 if days is None else int(from_day_start(since_day, zone))
        pages: AsyncIterator[list[tuple[Any, ...]]]
        match kind:
            case "members":
                pages = repo.members(gid)
            case "ledger":
                pages = repo.ledger(gid, since_day)
            case "needs":
                pages = repo.needs(gid, since_ms)
            case "cases":
                pages = repo.cases(gid, since_ms)
            case _:
                first = since_day if days is not None else (await repo.first_active_day(gid) or ctx.today())
                span = (today - date.fromisoformat(first)).days + 1
                pages = repo.activity(
                    gid, [(today - timedelta(days=i)).isoformat() for i in range(span)][::-1]
                )
        header = [ctx.t(f"export.col.{c}") for c in columns]
        convert = _converter(columns, zone)
        app = ctx.app
        fh = await off_loop(app, _open, path)
        count = 0
        try:
            writer = csv.writer(fh)
            await off_loop(app, writer.writerow, header)
            async for page in pages:
                await off_loop(app, writer.writerows, [convert(r) for r in page])
                count += len(page)
        finally:
            await off_loop(app, fh.close)
        return count


def _open(path: str) -> IO[str]:
    return open(path, "w", encoding="utf-8-sig", newline="")


def from_day_start(day: str, zone: ZoneInfo) -> int:
    return int(datetime.combine(date.fromisoformat(day), time(0), zone).timestamp() * 1000)


def _converter(columns: tuple[str, ...], zone: ZoneInfo) -> Callable[[tuple[Any, ...]], list[Any]]:
    times = [i for i, c in enumerate(columns) if c in TIME_COLUMNS]

    def convert(row: tuple[Any, ...]) -> list[Any]:
        out = [cell(v) for v in row]
        for i in times:
            v = row[i]
            out[i] = "" if v is None else from_ms(int(v)).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        return out

    return convert
