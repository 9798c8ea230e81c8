"""Console sessions: the script format (a contract later tests rely on) and the interactive prompt.

@clock 2026-11-22T09:00:00+08:00   set the clock
@advance 90s|45m|2h|3d             move it forward, firing due jobs in time order
@group name                        switch to (and create) a group
@join alice / @leave alice         membership
@admin carol                       carol becomes an admin of the current group
alice: text                        alice posts (commands included)
@press alice <label or id>         alice presses that button on the latest bot message having it
@redeliver                         the platform delivers the last input event again (same event key)
@restart                           the bot restarts on the same database
# comment / blank line             ignored
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from adapters.console.adapter import PLATFORM, ConsoleAdapter
from bot.app import App
from bot.clock import FakeClock
from bot.events import (
    MESSAGE_KINDS,
    Attachment,
    ButtonPressed,
    ChatRef,
    Event,
    MemberJoined,
    MemberLeft,
    MessagePosted,
    Replied,
    UserRef,
)
from bot.feature import Feature
from bot.files import FileStore
from bot.outbox import Outbox
from bot.parsing import is_id, parse_duration
from handlers import default_features
from storage.counters import Counters, IdBlock
from storage.db import Database, open_database

DEFAULT_START = datetime(2026, 1, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DEFAULT_GROUP = "demo"
_SAY = re.compile(r"^([\w.\-]{1,64}):\s?(.*)$", re.UNICODE | re.DOTALL)
_NAME = re.compile(r"^[\w.\-]{1,64}$", re.UNICODE)


class ScriptError(Exception):
    def __init__(self, lineno: int, message: str) -> None:
        super().__init__(f"line {lineno}: {message}")
        self.lineno = lineno
        self.message = message  # what the prompt shows: a line number means nothing there


@dataclass
class _Group:
    name: str
    admins: set[str]


class ConsoleSession:
    def __init__(
        self,
        db: Database,
        out: TextIO,
        *,
        jsonl: bool = False,
        echo: bool = True,
        start: datetime = DEFAULT_START,
        features: Callable[[], list[Feature]] = default_features,
        files_dir: str | None = None,
    ) -> None:
        self.db = db
        self.files = FileStore(files_dir, sequential=True)
        self._features = features
        self.clock = FakeClock(start)
        tz = start.tzinfo if start.tzinfo is not None else ZoneInfo("Asia/Shanghai")
        counters = Counters(db)
        self.adapter = ConsoleAdapter(
            out, jsonl=jsonl, display_tz=tz, ids=IdBlock(counters, "console:messages")
        )
        self._callback_ids = IdBlock(counters, "console:callbacks")
        self.echo = echo
        self.outbox = Outbox()
        self.outbox.register(self.adapter)
        self.app = self._new_app()
        self.groups: dict[str, _Group] = {}
        self.group = self._group(DEFAULT_GROUP)
        self.last_event: Event | None = None
        self._said: dict[tuple[str, str], tuple[str, str]] = {}  # (group, message id) -> (author, text)
        self._lock = asyncio.Lock()

    def _new_app(self) -> App:
        return App(
            self.db, self.clock, self.outbox, self._features(), manual_scheduler=True, files_dir=self.files
        )

    async def start(self) -> None:
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()

    def _group(self, name: str) -> _Group:
        if name not in self.groups:
            self.groups[name] = _Group(name, self.adapter.admins.setdefault(name, set()))
        return self.groups[name]

    # --- input ---------------------------------------------------------------------------------------

    def _echo(self, record: dict[str, object], readable: str) -> None:
        if self.echo:
            self.adapter.emit(record, readable)

    def _user(self, name: str) -> UserRef:
        return UserRef(user_id=name, name=name, username=name)

    def _chat(self) -> ChatRef:
        return ChatRef(PLATFORM, self.group.name, self.group.name)

    async def _dispatch(self, event: Event) -> None:
        self.last_event = event
        await self.app.handle(event)

    async def feed(self, line: str, lineno: int, *, default_user: str | None = None) -> None:
        async with self._lock:
            await self._feed(line, lineno, default_user)

    async def _feed(self, line: str, lineno: int, default_user: str | None) -> None:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return
        if stripped.startswith("@"):
            directive, _, rest = stripped[1:].partition(" ")
            handler = getattr(self, f"_do_{directive}", None)
            if handler is None:
                raise ScriptError(lineno, f"unknown directive @{directive}")
            try:
                await handler(rest.strip())
            except ScriptError:
                raise
            except ValueError as exc:
                raise ScriptError(lineno, f"@{directive}: {exc}") from exc
            return
        m = _SAY.match(stripped)
        if m:
            user, text = m.group(1), m.group(2)
        elif default_user is not None:
            user, text = default_user, stripped
        else:
            raise ScriptError(lineno, "expected 'name: text' or an @directive")
        await self._say(user, text.replace("\\n", "\n"))

    async def _say(
        self,
        user: str,
        text: str,
        reply_to: str | None = None,
        files: tuple[Attachment, ...] = (),
        kinds: tuple[str, ...] = (),
    ) -> None:
        mid = await self.adapter.new_id()
        g = self.group.name
        record = {"event": "message", "group": g, "user": user, "message_id": mid, "text": text}
        replied = None
        if reply_to is not None:
            record["reply_to"] = int(reply_to)
            author, original = self._said.get((g, reply_to), (None, ""))
            replied = Replied(reply_to, None if author is None else self._user(author), original)
        self._said[(g, str(mid))] = (user, text)
        if len(self._said) > 10_000:
            self._said.pop(next(iter(self._said)))
        self._echo(record, f"[{g}] {user} #{mid}" + (f" ↩{reply_to}" if reply_to else "") + f": {text}")
        if not self.echo:  # at the prompt: the id to @reply to, since the text itself was typed
            self.adapter.emit({"event": "message_id", "message_id": mid}, f"  (#{mid})")
        await self._dispatch(
            MessagePosted(
                event_key=f"con:{g}:{mid}",
                chat=self._chat(),
                user=self._user(user),
                is_admin=user in self.group.admins,
                at=self.clock.now(),
                message_id=str(mid),
                text=text,
                reply_to=reply_to,
                replied=replied,
                attachments=files,
                kinds=kinds,
            )
        )

    # --- directives ----------------------------------------------------------------------------------

    async def _do_reply(self, rest: str) -> None:
        """`@reply 12 bob: /report spam`: bob answers message 12 (what /report and /warn act on)."""
        target, _, line = rest.partition(" ")
        m = _SAY.match(line.strip())
        if not is_id(target) or not m:
            raise ValueError("expected '@reply <message id> name: text'")
        await self._say(m.group(1), m.group(2).replace("\\n", "\n"), reply_to=target)

    async def _do_post(self, rest: str) -> None:
        """`@post alice photo [caption]`: alice posts a photo (video, file, sticker, gif, voice, forward, poll)."""
        user, _, tail = rest.partition(" ")
        kind, _, caption = tail.strip().partition(" ")
        if not _NAME.match(user) or kind not in MESSAGE_KINDS:
            raise ValueError(f"expected '@post <name> <{'|'.join(MESSAGE_KINDS)}> [caption]'")
        await self._say(user, caption.strip(), kinds=(kind,))

    async def _do_attach(self, rest: str) -> None:
        """`@attach words.txt alice: /filter import`: alice sends that file with the message."""
        path, _, line = rest.partition(" ")
        m = _SAY.match(line.strip())
        if not path or not m:
            raise ValueError("expected '@attach <file path> name: text'")
        found = await asyncio.to_thread(_local_file, path)
        await self._say(m.group(1), m.group(2).replace("\\n", "\n"), files=(found,))

    def _need_name(self, rest: str, what: str) -> str:
        name = rest.split(" ", 1)[0] if rest else ""
        if not _NAME.match(name):
            raise ValueError(f"needs {what}")
        return name

    async def _do_clock(self, rest: str) -> None:
        when = datetime.fromisoformat(rest)
        if when.tzinfo is None:
            raise ValueError("give an offset, e.g. 2026-11-22T09:00:00+08:00")
        self.adapter.display_tz = when.tzinfo
        self._echo({"event": "clock", "at": when.isoformat()}, f"@clock {when.isoformat()}")
        if when >= self.clock.now():
            await self.app.scheduler.advance_to(when, jump=True)  # a restart after downtime, not a replay
        else:
            self.clock.set(when)

    async def _do_advance(self, rest: str) -> None:
        delta: timedelta = parse_duration(rest)
        target = self.clock.now() + delta
        self._echo(
            {"event": "advance", "by": rest, "to": self.adapter.when(target)},
            f"@advance {rest} → {self.adapter.when(target)}",
        )
        await self.app.scheduler.advance_to(target)

    async def _do_group(self, rest: str) -> None:
        self.group = self._group(self._need_name(rest, "a group name"))
        self._echo({"event": "group", "group": self.group.name}, f"@group {self.group.name}")

    async def _membership(self, rest: str, joined: bool) -> None:
        name = self._need_name(rest, "a user name")
        g = self.group.name
        kind = "join" if joined else "leave"
        self._echo(
            {"event": kind, "group": g, "user": name}, f"[{g}] {'+' if joined else '-'} {name} {kind}s"
        )
        key = f"con:{g}:{kind}:{name}:{await self.adapter.new_id()}"
        common = {
            "event_key": key,
            "chat": self._chat(),
            "user": self._user(name),
            "is_admin": False,
            "at": self.clock.now(),
        }
        event: Event = MemberJoined(**common) if joined else MemberLeft(**common)
        await self._dispatch(event)

    async def _do_join(self, rest: str) -> None:
        await self._membership(rest, True)

    async def _do_leave(self, rest: str) -> None:
        await self._membership(rest, False)
        self.group.admins.discard(rest.split(" ", 1)[0])

    async def _do_admin(self, rest: str) -> None:
        name = self._need_name(rest, "a user name")
        self.group.admins.add(name)
        self._echo(
            {"event": "admin", "group": self.group.name, "user": name},
            f"[{self.group.name}] * {name} is an admin",
        )

    async def _do_press(self, rest: str) -> None:
        user, _, wanted = rest.partition(" ")
        if not _NAME.match(user) or not wanted.strip():
            raise ValueError("usage: @press <user> <button label or id>")
        found = self.adapter.find_button(self.group.name, wanted.strip())
        if found is None:
            raise ValueError(f"no bot message in {self.group.name} has a button {wanted.strip()!r}")
        message_id, button = found
        g = self.group.name
        callback = await self._callback_ids.next()
        self._echo(
            {"event": "press", "group": g, "user": user, "message_id": message_id, "button": button.data},
            f"[{g}] {user} presses [{button.label}] on #{message_id}",
        )
        await self._dispatch(
            ButtonPressed(
                event_key=f"con:{g}:cb:{callback}",
                chat=self._chat(),
                user=self._user(user),
                is_admin=user in self.group.admins,
                at=self.clock.now(),
                message_id=str(message_id),
                data=button.data,
                callback_id=str(callback),
            )
        )

    async def _do_redeliver(self, _rest: str) -> None:
        if self.last_event is None:
            raise ValueError("nothing to redeliver yet")
        self._echo(
            {"event": "redeliver", "event_key": self.last_event.event_key},
            f"@redeliver {self.last_event.event_key}",
        )
        await self.app.handle(replace(self.last_event))

    async def _do_restart(self, _rest: str) -> None:
        self._echo({"event": "restart"}, "@restart")
        await self.app.stop()
        self.app = self._new_app()
        await self.app.start()


async def run_script(
    lines: list[str],
    out: TextIO,
    *,
    db_url: str,
    jsonl: bool = False,
    start: datetime = DEFAULT_START,
    features: Callable[[], list[Feature]] = default_features,
    files_dir: str | None = None,
) -> int:
    """Play a script; returns 0, or 2 after printing the line that stopped it."""
    db = await open_database(db_url)
    try:
        session = ConsoleSession(db, out, jsonl=jsonl, start=start, features=features, files_dir=files_dir)
    except BaseException:
        await db.close()
        raise
    try:
        await session.start()
        for lineno, line in enumerate(lines, 1):
            await session.feed(line, lineno)
        return 0
    except ScriptError as exc:
        print(f"script stopped at {exc}", file=sys.stderr)
        return 2
    finally:
        await session.stop()
        await db.close()


async def run_interactive(db_url: str, out: TextIO = sys.stdout, files_dir: str | None = None) -> int:
    """A prompt: plain lines are said by `me` (an admin of the current group); directives work as in scripts."""
    from bot.clock import SystemClock

    db = await open_database(db_url)
    start = SystemClock().now().astimezone(ZoneInfo("Asia/Shanghai"))
    session = ConsoleSession(db, out, echo=False, start=start, files_dir=files_dir)
    session.group.admins.add("me")
    await session.start()
    print(
        "Qunbot console — you are 'me', an admin of group 'demo'. Type /help; 'alice: hi' speaks as alice; "
        "@join, @admin, @group, @advance, @press work as in scripts; Ctrl-D quits.",
        file=out,
    )
    loop = asyncio.get_running_loop()
    wall = SystemClock()
    offset = session.clock.now() - wall.now()  # grows with @advance; otherwise the clock follows wall time
    lineno = 0
    try:
        while True:
            out.write(f"{session.group.name}> ")
            out.flush()
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            lineno += 1
            target = wall.now() + offset
            if target > session.clock.now():
                await session.app.scheduler.advance_to(target)
            try:
                await session.feed(line.rstrip("\n"), lineno, default_user="me")
            except ScriptError as exc:
                print(exc.message, file=out)
            offset = session.clock.now() - wall.now()
    finally:
        await session.stop()
        await db.close()
    return 0


def jsonl_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _local_file(path: str) -> Attachment:
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValueError(f"no such file: {path}")
    return Attachment(str(file.resolve()), file.name, file.stat().st_size)
