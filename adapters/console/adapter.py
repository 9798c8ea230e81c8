"""Turns neutral actions into lines of text (readable or JSONL) and remembers bot messages with buttons."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, TextIO

from bot import actions as A
from bot.events import Attachment
from bot.files import FileRefused
from bot.markup import plain
from bot.outbox import RateLimits
from bot.parsing import is_id
from rules.normalize import compact
from storage.counters import IdBlock

PLATFORM = "console"


@dataclass(slots=True)
class PostedMessage:
    group: str
    message_id: int
    buttons: A.Keyboard


class ConsoleAdapter:
    platform = PLATFORM
    limits = RateLimits()  # nothing to protect: no limits, so scripts replay instantly
    dm_opt_in = False  # the console prints every DM
    private_answers = True  # a button answer is printed as such

    def __init__(self, out: TextIO, *, jsonl: bool, display_tz: tzinfo, ids: IdBlock) -> None:
        self.out = out
        self.jsonl = jsonl
        self.display_tz = display_tz
        self._ids = ids  # message ids numbered per database: a second run never reuses an event key
        self.posted: list[PostedMessage] = []
        self.admins: dict[str, set[str]] = {}

    async def new_id(self) -> int:
        return await self._ids.next()

    def when(self, at: datetime) -> str:
        return at.astimezone(self.display_tz).isoformat()

    # --- output --------------------------------------------------------------------------------------

    def emit(self, record: dict[str, Any], readable: str) -> None:
        if "text" in record:
            record["text"] = plain(record["text"])
        readable = plain(readable)
        if self.jsonl:
            self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            first, *rest = readable.split("\n")
            self.out.write(first + "\n" + "".join(f"    {line}\n" for line in rest))
        self.out.flush()

    @staticmethod
    def _labels(buttons: A.Keyboard) -> list[str]:
        return [b.label for row in buttons for b in row]

    @classmethod
    def _render_buttons(cls, buttons: A.Keyboard) -> str:
        if not buttons:
            return ""
        return "\n" + "  ".join(f"[{label}]" for label in cls._labels(buttons))

    # --- actions -------------------------------------------------------------------------------------

    async def perform(self, action: A.Action) -> A.ActionResult:
        g = action.chat.chat_id
        match action:
            case A.Send(text=text, buttons=buttons):
                mid = await self.new_id()
                self._remember(g, mid, buttons)
                rec = {"action": "send", "group": g, "message_id": mid, "text": text}
                if buttons:
                    rec["buttons"] = self._labels(buttons)
                self.emit(rec, f"[{g}] bot #{mid}: {text}{self._render_buttons(buttons)}")
                return A.ActionResult(ok=True, message_id=str(mid))
            case A.Reply(text=text, buttons=buttons, reply_to=reply_to, ephemeral=ephemeral):
                mid = await self.new_id()
                self._remember(g, mid, buttons)
                rec = {
                    "action": "reply",
                    "group": g,
                    "reply_to": _int(reply_to),
                    "message_id": mid,
                    "text": text,
                }
                if buttons:
                    rec["buttons"] = self._labels(buttons)
                if ephemeral:
                    rec["ephemeral"] = True
                self.emit(rec, f"[{g}] bot #{mid} ↩ #{reply_to}: {text}{self._render_buttons(buttons)}")
                return A.ActionResult(ok=True, message_id=str(mid))
            case A.EditMessage(message_id=mid, text=text, buttons=buttons):
                self._remember(g, int(mid), buttons)
                rec = {"action": "edit", "group": g, "message_id": _int(mid), "text": text}
                if buttons:
                    rec["buttons"] = self._labels(buttons)
                self.emit(rec, f"[{g}] bot edited #{mid}: {text}{self._render_buttons(buttons)}")
            case A.Delete(message_id=mid):
                self.emit({"action": "delete", "group": g, "message_id": _int(mid)}, f"[{g}] deleted #{mid}")
            case A.Pin(message_id=mid, pinned=pinned):
                kind = "pin" if pinned else "unpin"
                self.emit({"action": kind, "group": g, "message_id": _int(mid)}, f"[{g}] {kind}ned #{mid}")
            case A.Mute(user_id=u, until=until):
                self.emit(
                    {"action": "mute", "group": g, "user": u, "until": self.when(until)},
                    f"[{g}] muted {u} until {self.when(until)}",
                )
            case A.Unmute(user_id=u):
                self.emit({"action": "unmute", "group": g, "user": u}, f"[{g}] unmuted {u}")
            case A.Kick(user_id=u):
                self.emit({"action": "kick", "group": g, "user": u}, f"[{g}] kicked {u}")
            case A.Ban(user_id=u, until=until):
                rec = {"action": "ban", "group": g, "user": u}
                if until is not None:
                    rec["until"] = self.when(until)
                self.emit(rec, f"[{g}] banned {u}" + (f" until {self.when(until)}" if until else ""))
            case A.Unban(user_id=u):
                self.emit({"action": "unban", "group": g, "user": u}, f"[{g}] unbanned {u}")
            case A.GrantRole(user_id=u, role=role):
                self.emit(
                    {"action": "grant_role", "group": g, "user": u, "role": role},
                    f"[{g}] {u} gets role {role}",
                )
            case A.AnswerButton(callback_id=cb, text=text, alert=alert):
                rec = {"action": "answer_button", "group": g, "callback_id": cb, "text": text}
                if alert:
                    rec["alert"] = True
                self.emit(rec, f"[{g}] (button answer) {text}" if text else f"[{g}] (button answered)")
            case A.DirectMessage(user_id=u, text=text, buttons=buttons):
                mid = await self.new_id()
                self._remember(f"dm:{u}", mid, buttons)
                rec = {"action": "dm", "group": g, "user": u, "message_id": mid, "text": text}
                if buttons:
                    rec["buttons"] = self._labels(buttons)
                self.emit(rec, f"[dm → {u}] bot #{mid}: {text}{self._render_buttons(buttons)}")
                return A.ActionResult(ok=True, message_id=str(mid))
            case A.Purge(until_message_id=until, from_message_id=first, count=n) if until is not None:
                start = int(first) if first and is_id(first) else int(until) - n
                gone = max(0, int(until) - start + 1)
                rec = {"action": "purge", "group": g, "from": start, "until": _int(until)}
                self.emit(rec, f"[{g}] (messages #{start}–#{until} deleted)")
                return A.ActionResult(ok=True, extra={"deleted": str(gone), "too_old": "0"})
            case A.SendFile(path=path, filename=name, caption=caption, user_id=u):
                # The console has no upload: the file stays where the app wrote it, and its path is shown.
                if not await asyncio.to_thread(Path(path).is_file):
                    raise A.PermanentError(A.Failure.NOT_FOUND, f"file {name} is gone")
                mid = await self.new_id()
                where = f"dm → {u}" if u else g
                rec = {
                    "action": "file",
                    "group": g,
                    "message_id": mid,
                    "name": name,
                    "path": path,
                    "text": caption,
                }
                if u:
                    rec["user"] = u
                self.emit(
                    rec, f"[{where}] bot #{mid} 📎 {name}: {path}" + (f"\n{caption}" if caption else "")
                )
                return A.ActionResult(ok=True, message_id=str(mid))
            case _:
                raise A.PermanentError(A.Failure.BAD_REQUEST, f"console cannot do {type(action).__name__}")
        return A.OK

    async def member_is_admin(self, chat_id: str, user_id: str) -> bool:
        return user_id in self.admins.get(chat_id, ())

    async def fetch_file(self, attachment: Attachment, max_bytes: int) -> bytes:
        """An `@attach`ed file is a path on the operator's own machine."""
        try:
            return await asyncio.to_thread(_read_at_most, Path(attachment.ref), max_bytes)
        except OSError as exc:
            raise FileRefused("unavailable") from exc

    def _remember(self, group: str, message_id: int, buttons: A.Keyboard) -> None:
        if buttons:
            self.posted.append(PostedMessage(group, message_id, buttons))
            del self.posted[:-200]

    def find_button(self, group: str, wanted: str) -> tuple[int, A.Button] | None:
        """The latest bot message in `group` with a button whose label or data is `wanted`; the label may
        be given without its emoji or spacing (`@press dave 我也签到` for "✅ 我也签到")."""
        key = compact(wanted)
        for posted in reversed(self.posted):
            if posted.group != group:
                continue
            for row in posted.buttons:
                for button in row:
                    if wanted in (button.label, button.data) or (key and compact(button.label) == key):
                        return posted.message_id, button
        return None


def _int(value: str | None) -> int | str | None:
    return int(value) if value is not None and is_id(value) else value


def _read_at_most(path: Path, max_bytes: int) -> bytes:
    if path.stat().st_size > max_bytes:
        raise FileRefused("too_big")
    return path.read_bytes()
