"""Saved answers to common questions (常见问题, Rose-style notes): admins save them once, members pull them.

`/faq` lists the questions as buttons; pressing one shows its answer to the presser (privately where
the platform can answer a button privately, else the list message turns into the answer, with a way
back, instead of a new message each press). `/faq <keyword>` and a message that is only `#keyword`
show one entry. Keys are the question folded as moderation folds text (width, traditional → simplified,
case, separators), so 「怎麼簽到」 finds 「怎么签到」.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime
from datetime import time as dtime
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict
from rapidfuzz import fuzz, process

from bot.actions import URL_PREFIX, Button, Keyboard, keyboard
from bot.clock import to_ms
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import ButtonPressed, MessagePosted
from bot.feature import Feature
from bot.keyboards import paged
from bot.parsing import REST, parse_int, tokenize
from rules.normalize import compact
from rules.questions import QuestionIndex, is_question, question_key
from storage.faq import Entry, FaqRepo, log_row

if TYPE_CHECKING:
    from bot.app import App

MAX_QUESTION = 200
MAX_ANSWER = 3000
MAX_ENTRIES = 200
MAX_FILE = 1_000_000  # bytes of an imported file: 200 long answers fit many times over
EXPORT_CHUNK = 3500  # characters an export may have to be shown as a message; longer ones go as a file
LISTED = 24  # entries a keyword search offers at most (the full list is paged: bot/keyboards.py)
FUZZY_CUTOFF = 80
LOG_KEPT_MS = 120 * 86_400_000  # the FAQ's log, with the texts of unanswered questions, is kept 120 days
# Link buttons under one answer: at most 8, in at most 4 rows (Discord's five rows then still hold the
# FAQ's own row under them).
MAX_LINKS = 8
LINK_ROWS = 4
# Rose's syntax, which operators coming from Rose already write: [label](buttonurl://https://…), and
# `:same` to put a button on the row before. Bounded pieces, no nesting: linear in the answer.
_LINK = re.compile(
    r"\[([^\[\]\n]{1,40})\]\(buttonurl:(?://)?"
    r"(https?://[\w\-.~%]{1,100}\.[\w\-]{2,63}(?::\d{1,5})?(?:[/?#][^\s()<>\"']{0,300}?)?)(:same)?\)",
    re.I,
)
_HASH = re.compile(r"^[#＃](\S{1,40})$")
_SPLIT = re.compile(r"\s*[|｜]\s*")


def split_answer(answer: str) -> tuple[str, list[list[Button]]]:
    """The answer's text without its link buttons, and the buttons in rows (at most three a row)."""
    rows: list[list[Button]] = []

    def take(m: re.Match[str]) -> str:
        button = Button(m.group(1).strip(), URL_PREFIX + m.group(2))
        if m.group(3) and rows and len(rows[-1]) < 3:
            rows[-1].append(button)
        else:
            rows.append([button])
        return ""

    text = _LINK.sub(take, answer) if "buttonurl:" in answer.lower() else answer
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip()
    kept, room = [], MAX_LINKS
    for row in rows[:LINK_ROWS]:  # /faq add refuses more; an older entry shows what fits
        kept.append(row[:room])
        room -= len(kept[-1])
    return text, [r for r in kept if r]


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rest: Annotated[str, REST] = ""


class FaqFeature(Feature):
    name = "faq"
    settings_section = "faq"
    button_prefix = "faq"
    priority = 80

    def __init__(self) -> None:
        # per group: the entries and their folded questions, what automatic answers match against
        self._entries: dict[int, tuple[list[Entry], QuestionIndex]] = {}

    async def cached(self, ctx: Context) -> tuple[list[Entry], QuestionIndex]:
        found = self._entries.get(ctx.group.id)
        if found is None:
            entries = await FaqRepo(ctx.app.db).entries(ctx.group.id)
            index = QuestionIndex({e.id: [e.key, *(question_key(p) for p in e.phrasings)] for e in entries})
            found = self._entries[ctx.group.id] = (entries, index)
        return found

    def forget(self, ctx: Context) -> None:
        self._entries.pop(ctx.group.id, None)

    async def prune(self, app: App, now_ms: int) -> None:
        await FaqRepo(app.db).prune_log(now_ms - LOG_KEPT_MS)

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec("faq", self.faq_cmd, Args, aliases=("常见问题", "问答"), feature=self.name, file="file")
        ]

    # --- members -------------------------------------------------------------------------------------

    async def faq_cmd(self, ctx: Context, args: Args) -> None:
        tokens = tokenize(args.rest)
        verb = tokens[0].text.lower() if tokens else ""
        rest = args.rest[tokens[0].end :].strip() if tokens else ""
        admin_verbs = {
            "add": self.add,
            "edit": self.edit,
            "remove": self.remove,
            "del": self.remove,
            "alias": self.alias,
            "export": self.export,
            "import": self.import_,
        }
        if verb in admin_verbs:
            if not ctx.is_admin:
                await ctx.reply(ctx.t("common.admin_only", name=f"faq {verb}"), ephemeral=True)
                return
            await admin_verbs[verb](ctx, rest)
            self.forget(ctx)
        elif not tokens or verb == "list":
            await self.show_list(ctx)
        else:
            await self.lookup(ctx, args.rest.strip(), quiet=False)

    async def on_message(self, ctx: Context, event: MessagePosted) -> bool:
        if event.edited:
            return False
        head = event.text[:2]
        if "#" in head or "＃" in head:  # every message passes here: a look at two characters first
            m = _HASH.match(event.text.strip())
            if m is not None:
                return await self.lookup(ctx, m.group(1), quiet=True)  # a hashtag naming no entry is chat
        s = ctx.settings.faq
        if s.auto and not event.is_admin and not event.text.startswith("/") and is_question(event.text):
            await self.auto_answer(ctx, event)
        return False

    async def auto_answer(self, ctx: Context, event: MessagePosted) -> None:
        """Answer once, above the group's threshold; below it nothing (never guess in a busy group), but
        the question is kept for the digest's "asked again and again" list."""
        entries, index = await self.cached(ctx)
        if not entries:
            return
        repo, user, chat = FaqRepo(ctx.app.db), event.user.user_id, event.channel or ""
        key = question_key(event.text)
        s, now = ctx.settings.faq, ctx.now_ms()
        found = index.best(key, s.threshold)
        if found is None or found[1] < s.threshold:
            if key:  # a figure only: batched with the activity rows, no commit of its own
                text = event.text.strip()[:200]
                await ctx.app.writer.faq(
                    log_row(ctx.group.id, chat, "miss", user, now, key=key[:200], text=text)
                )
            return
        entry = next(e for e in entries if e.id == found[0])
        last = await repo.last_answer(ctx.group.id, chat, entry.id)
        if last is not None and now - last < s.cooldown_minutes * 60_000:
            await ctx.app.writer.faq(log_row(ctx.group.id, chat, "quiet", user, now, entry_id=entry.id))
            return
        await repo.log(log_row(ctx.group.id, chat, "auto", user, now, entry_id=entry.id))
        links = split_answer(entry.answer)[1]
        nav = [Button(ctx.t("faq.not_answered"), f"faq:no:{entry.id}"), Button(ctx.t("faq.more"), "faq:list")]
        await ctx.reply(self.answer_text(ctx, entry), keyboard(*links, nav))

    async def shown(self, ctx: Context, entry: Entry) -> None:
        """A member pulled an entry: it counts toward the digest's most asked."""
        ev = ctx.event
        if ev is not None:
            row = log_row(
                ctx.group.id, ev.channel or "", "shown", ev.user.user_id, ctx.now_ms(), entry_id=entry.id
            )
            await FaqRepo(ctx.app.db).log(row)

    async def lookup(self, ctx: Context, keyword: str, *, quiet: bool) -> bool:
        entries = await FaqRepo(ctx.app.db).entries(ctx.group.id)
        found = self.find(entries, keyword)
        if len(found) == 1:
            await self.shown(ctx, found[0])
            await ctx.reply(self.answer_text(ctx, found[0]), self.more(ctx, found[0]))
            return True
        if found:
            await ctx.reply(ctx.t("faq.several", keyword=keyword[:40]), self.buttons(found))
            return True
        if not quiet:
            await ctx.reply(ctx.t("faq.not_found", keyword=keyword[:40]), self.more(ctx) if entries else ())
        return False

    def find(self, entries: list[Entry], keyword: str) -> list[Entry]:
        """The entry whose question is the keyword; else those containing it; else the closest one."""
        key = compact(keyword)
        if not key or not entries:
            return []
        exact = [e for e in entries if e.key == key]
        if exact:
            return exact
        if len(key) >= 2:
            containing = [e for e in entries if key in e.key]
            if containing:
                return containing[:LISTED]
        best = process.extractOne(
            key, {e.id: e.key for e in entries}, scorer=fuzz.WRatio, score_cutoff=FUZZY_CUTOFF
        )
        return [] if best is None else [e for e in entries if e.id == best[2]]

    async def show_list(self, ctx: Context) -> None:
        entries = await FaqRepo(ctx.app.db).entries(ctx.group.id)
        if not entries:
            await ctx.reply(ctx.t("faq.empty_admin" if ctx.is_admin else "faq.empty"))
            return
        lines = [ctx.t("faq.list_title", count=len(entries))]
        if ctx.is_admin:  # admins also get the ids they edit by
            lines += [f"#{e.id} {e.question[:60]}" for e in entries]
            lines.append(ctx.t("faq.admin_hint"))
        await ctx.reply("\n".join(lines), self.buttons(ctx, entries))

    def buttons(self, ctx: Context, entries: list[Entry], page: int = 0) -> Keyboard:
        """The questions as buttons, several a row, paged by what one message holds on this platform."""
        grid = ctx.app.outbox.button_grid(ctx.chat.platform)
        questions = [Button(e.question[:40], f"faq:{e.id}") for e in entries]
        labels = (ctx.t("common.page_prev"), ctx.t("common.page_next"))
        return paged(questions, page, grid, lambda k: f"faq:p:{k}", labels=labels).keyboard

    def more(self, ctx: Context, entry: Entry | None = None) -> Keyboard:
        """The entry's own link buttons, if any, then the way to the other questions."""
        links = split_answer(entry.answer)[1] if entry is not None else []
        return keyboard(*links, [Button(ctx.t("faq.more"), "faq:list")])

    def answer_text(self, ctx: Context, e: Entry) -> str:
        return ctx.t("faq.answer", question=e.question, answer=split_answer(e.answer)[0])

    async def on_button(self, ctx: Context, event: ButtonPressed, payload: str) -> None:
        repo = FaqRepo(ctx.app.db)
        if payload.startswith("no:"):  # "not answered": the admins hear of it, the presser is thanked
            entry_id = parse_int(payload[3:], 1)
            entry = None if entry_id is None else await repo.get(ctx.group.id, entry_id)
            await ctx.answer_button(ctx.t("faq.told_admins"))
            day_start = datetime.combine(date.fromisoformat(ctx.today()), dtime(), ctx.zone)
            if entry is not None and not await repo.said_not_answered(
                ctx.group.id, entry.id, event.user.user_id, to_ms(day_start)
            ):  # once per member, entry and day: fifty presses are one notice, one figure
                row = log_row(
                    ctx.group.id,
                    event.channel or "",
                    "no",
                    event.user.user_id,
                    ctx.now_ms(),
                    entry_id=entry.id,
                )
                await repo.log(row)
                text = ctx.t(
                    "faq.not_answered_log",
                    who=event.user.name[:40],
                    id=entry.id,
                    question=entry.question[:60],
                )
                await ctx.app.emit(ctx, "admins.notice", text=text)
            return
        if payload == "list" or payload.startswith("p:"):  # the list, or another page of it
            page = (parse_int(payload[2:], 0) or 0) if payload.startswith("p:") else 0
            entries = await repo.entries(ctx.group.id)
            await ctx.answer_button()
            text = ctx.t("faq.list_title", count=len(entries)) if entries else ctx.t("faq.empty")
            await ctx.edit(event.message_id, text, self.buttons(ctx, entries, page))
            return
        entry_id = parse_int(payload, 1)
        entry = None if entry_id is None else await repo.get(ctx.group.id, entry_id)
        if entry is None:
            await ctx.answer_button(ctx.t("faq.gone"), alert=True)
            return
        await self.shown(ctx, entry)
        if ctx.app.outbox.private_answers(ctx.chat.platform):
            links = keyboard(*split_answer(entry.answer)[1])
            await ctx.answer_button(self.answer_text(ctx, entry), buttons=links)  # only the presser sees it
        else:
            await ctx.answer_button()
            await ctx.edit(event.message_id, self.answer_text(ctx, entry), self.more(ctx, entry))

    # --- admins --------------------------------------------------------------------------------------

    def parse(self, ctx: Context, text: str) -> tuple[str, str] | str:
        """(question, answer) from `question | answer`, or the text of why not."""
        parts = _SPLIT.split(text.strip(), maxsplit=1)
        if len(parts) != 2:
            return ctx.t("common.usage", usage=ctx.t("cmd.faq.usage"))
        question, answer = parts[0].strip(), parts[1].strip()
        if not compact(question) or len(question) > MAX_QUESTION or "\n" in question:
            return ctx.t("faq.bad_question", max=MAX_QUESTION)
        if not answer:
            return ctx.t("faq.empty_answer")
        if len(answer) > MAX_ANSWER:
            return ctx.t("faq.long_answer", max=MAX_ANSWER, length=len(answer))
        if "buttonurl:" in answer.lower():
            found = _LINK.findall(answer)
            rows = sum(1 for m in found if not m[2]) + (1 if found and found[0][2] else 0)
            if len(found) > MAX_LINKS or rows > LINK_ROWS:
                return ctx.t("faq.many_links", max=MAX_LINKS, rows=LINK_ROWS)
            if len(found) != answer.lower().count("buttonurl:"):
                return ctx.t("faq.bad_link")
        return question, answer

    async def add(self, ctx: Context, rest: str) -> None:
        parsed = self.parse(ctx, rest)
        if isinstance(parsed, str):
            await ctx.reply(parsed, ephemeral=True)
            return
        question, answer = parsed
        repo = FaqRepo(ctx.app.db)
        if len(await repo.entries(ctx.group.id)) >= MAX_ENTRIES:
            await ctx.reply(ctx.t("faq.full", max=MAX_ENTRIES), ephemeral=True)
            return
        assert ctx.event is not None
        new_id = await repo.add(
            ctx.group.id, question, answer, compact(question), ctx.event.user.name, ctx.now_ms()
        )
        if new_id is None:
            await ctx.reply(ctx.t("faq.duplicate", question=question[:60]), ephemeral=True)
            return
        await ctx.reply(ctx.t("faq.added", id=new_id, question=question[:60]))

    async def edit(self, ctx: Context, rest: str) -> None:
        ref, _, body = rest.partition(" ")
        entry_id = parse_int(ref.lstrip("#"), 1)
        parsed = (
            self.parse(ctx, body)
            if entry_id is not None
            else ctx.t("common.usage", usage=ctx.t("cmd.faq.usage"))
        )
        if isinstance(parsed, str):
            await ctx.reply(parsed, ephemeral=True)
            return
        question, answer = parsed
        repo = FaqRepo(ctx.app.db)
        assert entry_id is not None
        if await repo.get(ctx.group.id, entry_id) is None:
            await ctx.reply(ctx.t("faq.no_entry", id=entry_id), ephemeral=True)
        elif not await repo.edit(ctx.group.id, entry_id, question, answer, compact(question), ctx.now_ms()):
            await ctx.reply(ctx.t("faq.duplicate", question=question[:60]), ephemeral=True)
        else:
            await ctx.reply(ctx.t("faq.edited", id=entry_id))

    async def alias(self, ctx: Context, rest: str) -> None:
        """Another way members ask an entry's question: automatic answers match it too."""
        ref, _, phrasing = rest.partition(" ")
        entry_id = parse_int(ref.lstrip("#"), 1)
        phrasing = phrasing.strip()
        if entry_id is None or not compact(phrasing) or len(phrasing) > MAX_QUESTION or "\n" in phrasing:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.faq.usage")), ephemeral=True)
        elif await FaqRepo(ctx.app.db).add_phrasing(ctx.group.id, entry_id, phrasing):
            await ctx.reply(ctx.t("faq.aliased", id=entry_id, phrasing=phrasing[:60]))
        else:
            await ctx.reply(ctx.t("faq.no_entry", id=entry_id), ephemeral=True)

    # --- export and import: `## question`, `> another way to ask`, then the answer's lines ----------

    def render(self, entries: list[Entry]) -> str:
        blocks = []
        for e in entries:
            blocks.append("\n".join([f"## {e.question}", *(f"> {p}" for p in e.phrasings), e.answer]))
        return "\n\n".join(blocks) + "\n"

    def parse_blocks(self, text: str) -> list[tuple[str, list[str], str]]:
        """(question, phrasings, answer) per `## ` block; text before the first block is ignored."""
        out: list[tuple[str, list[str], str]] = []
        for block in re.split(r"(?m)^##[ \t]*", text)[1:]:
            head, _, body = block.partition("\n")
            lines = body.split("\n")
            phrasings = [line[1:].strip() for line in lines if line.startswith(">")]
            answer = "\n".join(line for line in lines if not line.startswith(">")).strip()
            out.append((head.strip(), phrasings, answer))
        return out

    async def export(self, ctx: Context, _rest: str) -> None:
        entries = await FaqRepo(ctx.app.db).entries(ctx.group.id)
        if not entries:
            await ctx.reply(ctx.t("faq.empty_admin"))
            return
        body = self.render(entries)
        if len(body) <= EXPORT_CHUNK:
            await ctx.reply(body.rstrip("\n"))
            return
        path = ctx.app.files.new_path(f"faq-{ctx.group.id}", ".txt")
        await asyncio.to_thread(path.write_bytes, body.encode("utf-8-sig"))
        await ctx.send_file(
            str(path), f"qunbot-faq-{ctx.today()}.txt", ctx.t("faq.exported", count=len(entries))
        )

    async def import_(self, ctx: Context, rest: str) -> None:
        text: str | None = rest
        if not rest.strip() and ctx.attachments():
            text = await ctx.read_text_attachment(("txt", "md"), MAX_FILE)
            if text is None:
                return
        blocks = self.parse_blocks(text or "")
        if not blocks:
            await ctx.reply(ctx.t("faq.import_how"), ephemeral=True)
            return
        repo, added, refused = FaqRepo(ctx.app.db), 0, []
        assert ctx.event is not None
        room = MAX_ENTRIES - len(await repo.entries(ctx.group.id))
        for question, phrasings, answer in blocks:
            parsed = self.parse(ctx, f"{question} | {answer}")
            if isinstance(parsed, str) or room <= 0:
                refused.append(question[:40] or "—")
                continue
            new_id = await repo.add(
                ctx.group.id, *parsed, compact(parsed[0]), ctx.event.user.name, ctx.now_ms()
            )
            if new_id is None:
                refused.append(question[:40])
                continue
            for phrasing in phrasings[:20]:
                if compact(phrasing) and len(phrasing) <= MAX_QUESTION:
                    await repo.add_phrasing(ctx.group.id, new_id, phrasing)
            added += 1
            room -= 1
        lines = [ctx.t("faq.imported", added=added, refused=len(refused))]
        if refused:
            lines.append(ctx.t("faq.import_refused", questions=ctx.join(refused[:10])))
        await ctx.reply("\n".join(lines))

    async def remove(self, ctx: Context, rest: str) -> None:
        entry_id = parse_int(rest.strip().lstrip("#"), 1)
        if entry_id is None:
            await ctx.reply(ctx.t("common.usage", usage=ctx.t("cmd.faq.usage")), ephemeral=True)
        elif await FaqRepo(ctx.app.db).remove(ctx.group.id, entry_id):
            await ctx.reply(ctx.t("faq.removed", id=entry_id))
        else:
            await ctx.reply(ctx.t("faq.no_entry", id=entry_id), ephemeral=True)
