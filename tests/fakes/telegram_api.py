"""A fake Telegram Bot API server on 127.0.0.1 that speaks the real JSON shapes and records every call.

python-telegram-bot talks to it exactly as to api.telegram.org: long polling with offset and timeout,
form-encoded requests with JSON-encoded complex values. It can be told to answer a method with a 429
(retry_after), a 5xx, or a 403 once.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import serve

BOT_ID = 999_000
BOT_USERNAME = "QunTestBot"
ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
    "can_manage_topics": False,
}
DEFAULT_PERMISSIONS = {
    "can_send_messages": True,
    "can_send_audios": True,
    "can_send_documents": True,
    "can_send_photos": True,
    "can_send_videos": True,
    "can_send_video_notes": True,
    "can_send_voice_notes": True,
    "can_send_polls": True,
    "can_send_other_messages": True,
    "can_add_web_page_previews": True,
    "can_change_info": False,
    "can_invite_users": True,
    "can_pin_messages": False,
    "can_manage_topics": False,
}


def user(uid: int, name: str, *, is_bot: bool = False, lang: str | None = None) -> dict[str, Any]:
    u: dict[str, Any] = {"id": uid, "is_bot": is_bot, "first_name": name, "username": name.lower()}
    if lang:
        u["language_code"] = lang
    return u


BOT_USER = {**user(BOT_ID, "Qun", is_bot=True), "username": BOT_USERNAME}


def group(chat_id: int, title: str = "Test Group") -> dict[str, Any]:
    return {"id": chat_id, "type": "supergroup", "title": title}


def member(u: dict[str, Any], status: str = "member") -> dict[str, Any]:
    if status == "administrator":
        return {"status": status, "user": u, **ADMIN_RIGHTS}
    if status == "creator":
        return {"status": status, "user": u, "is_anonymous": False}
    if status == "kicked":
        return {"status": status, "user": u, "until_date": 0}
    return {"status": status, "user": u}


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass
class FakeBotApi:
    token: str = "123456:TEST-TOKEN"
    calls: list[Call] = field(default_factory=list)
    admins: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _failures: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    _next_update: int = 1
    _next_message: int = 5000
    _closing: bool = False
    files: dict[str, bytes] = field(default_factory=dict)  # file_id -> content, served by getFile

    def __post_init__(self) -> None:
        self._changed = asyncio.Event()
        self._called = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- control -------------------------------------------------------------------------------------

    async def start(self) -> str:
        self._runner, self.base_url = await serve("/{tail:.*}", self._route)
        return self.base_url

    async def _route(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info["tail"]
        if tail.startswith("file/bot"):  # a file download: /file/bot<token>/<file_path>
            token, _, path = tail.removeprefix("file/bot").partition("/")
            if token != self.token:
                return web.Response(status=401)
            data = self.files.get(path.removeprefix("files/"))
            return web.Response(body=data) if data is not None else web.Response(status=404)
        if not tail.startswith("bot"):
            return web.Response(status=404)
        token, _, method = tail.removeprefix("bot").partition("/")
        return await self._handle(request, token, method)

    def add_file(self, file_id: str, data: bytes) -> None:
        """A file members can send (a document's file_id); getFile and the download serve it."""
        self.files[file_id] = data

    async def stop(self) -> None:
        self._closing = True
        self._changed.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def push(self, update: dict[str, Any], *, update_id: int | None = None) -> int:
        """Queue an update; give the same update_id again to simulate a redelivery."""
        if update_id is None:
            update_id = self._next_update
            self._next_update += 1
        self._updates.append({"update_id": update_id, **update})
        self._changed.set()
        return update_id

    def fail_next(self, method: str, status: int, description: str, retry_after: int | None = None) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        self._failures.setdefault(method, []).append((status, body))

    def of(self, method: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, within: float = 10.0) -> list[dict[str, Any]]:
        try:
            async with asyncio.timeout(within):
                while len(self.of(method)) < count:
                    self._called.clear()
                    await self._called.wait()
        except TimeoutError:
            raise AssertionError(
                f"expected {count} {method} call(s), got {self.of(method)}; all: {[c.method for c in self.calls]}"
            ) from None
        return self.of(method)

    def new_message_id(self) -> int:
        self._next_message += 1
        return self._next_message

    # --- the API -------------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()  # form-encoded, or multipart when PTB uploads a file
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, web.FileField):
                params[key] = {
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "data": value.file.read(),
                }
                continue
            text = str(value)
            try:
                params[key] = json.loads(text) if text[:1] in "[{" or text in ("true", "false") else text
            except json.JSONDecodeError:
                params[key] = text
        return params

    async def _handle(self, request: web.Request, token: str, method: str) -> web.Response:
        if token != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        params = await self._params(request)
        if method != "getUpdates":
            self.calls.append(Call(method, params))
            self._called.set()
        queued = self._failures.get(method)
        if queued:
            status, body = queued.pop(0)
            return web.json_response(body, status=status)
        handler = getattr(self, f"_m_{method}", None)
        result = await handler(params) if handler is not None else True
        return web.json_response({"ok": True, "result": result})

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset", 0) or 0)
        timeout = min(float(params.get("timeout", 0) or 0), 1.0)  # keep tests quick
        deadline = time.monotonic() + timeout
        while True:
            if offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if self._updates or self._closing or time.monotonic() >= deadline:
                return list(self._updates)
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                pass

    async def _m_getMe(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {
            **BOT_USER,
            "can_join_groups": True,
            "can_read_all_group_messages": True,
            "supports_inline_queries": False,
        }

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        chat = group(chat_id) if chat_id < 0 else {"id": chat_id, "type": "private", "first_name": "user"}
        return {
            "message_id": int(params.get("message_id") or self.new_message_id()),
            "date": int(time.time()),
            "chat": chat,
            "from": BOT_USER,
            "text": params.get("text", ""),
        }

    async def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message(params)

    async def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**self._message(params), "document": self._uploaded(params.get("document"))}

    async def _m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        up = self._uploaded(params.get("photo"))
        return {**self._message(params), "photo": [{**up, "width": 1200, "height": 630}]}

    @staticmethod
    def _uploaded(part: Any) -> dict[str, Any]:
        size = len(part["data"]) if isinstance(part, dict) else 0
        return {"file_id": "up-1", "file_unique_id": "u1", "file_size": size}

    async def _m_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params["file_id"])
        if file_id not in self.files:
            raise web.HTTPBadRequest(
                text=json.dumps(
                    {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}
                ),
                content_type="application/json",
            )
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(self.files[file_id]),
            "file_path": f"files/{file_id}",
        }

    async def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message(params)

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message(params)

    async def _m_getChatAdministrators(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        admins = self.admins.get(int(params["chat_id"]), [])
        return [member(BOT_USER, "administrator")] + [member(a, "administrator") for a in admins]

    async def _m_getChatMember(self, params: dict[str, Any]) -> dict[str, Any]:
        uid = int(params["user_id"])
        if uid == BOT_ID:
            return member(BOT_USER, "administrator")
        admins = self.admins.get(int(params["chat_id"]), [])
        found = next((a for a in admins if a["id"] == uid), None)
        return member(found, "administrator") if found else member(user(uid, f"u{uid}"))

    async def _m_getChat(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **group(int(params["chat_id"])),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
            },
            "permissions": DEFAULT_PERMISSIONS,
        }


# --- update builders ---------------------------------------------------------------------------------


def text_message(
    chat_id: int, message_id: int, sender: dict[str, Any], text: str, **extra: Any
) -> dict[str, Any]:
    msg = {**message_base(chat_id, message_id, sender), "text": text, **command_entities("entities", text)}
    msg.update(extra)
    return {"message": msg}


def message_base(chat_id: int, message_id: int, sender: dict[str, Any]) -> dict[str, Any]:
    """What every group message update carries; builders add the text, caption or media."""
    return {"message_id": message_id, "date": int(time.time()), "chat": group(chat_id), "from": sender}


def command_entities(field: str, text: str) -> dict[str, Any]:
    """The bot_command entity Telegram marks a leading /command with (in `entities` or `caption_entities`)."""
    if not text.startswith("/"):
        return {}
    return {field: [{"type": "bot_command", "offset": 0, "length": len(text.split(" ", 1)[0])}]}


def document_message(
    chat_id: int,
    message_id: int,
    sender: dict[str, Any],
    file_id: str,
    name: str,
    size: int,
    caption: str = "",
    mime: str = "text/plain",
) -> dict[str, Any]:
    """A member's message carrying a document (and, as a caption, perhaps a command)."""
    document = {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_name": name, "mime_type": mime,
                "file_size": size}  # fmt: skip
    msg = {**message_base(chat_id, message_id, sender), "document": document}
    if caption:
        msg.update({"caption": caption, **command_entities("caption_entities", caption)})
    return {"message": msg}


def join_message(chat_id: int, message_id: int, newcomer: dict[str, Any]) -> dict[str, Any]:
    return {
        "message": {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": group(chat_id),
            "from": newcomer,
            "new_chat_members": [newcomer],
        }
    }


def chat_member_update(chat_id: int, who: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {
        "chat_member": {
            "chat": group(chat_id),
            "from": who,
            "date": int(time.time()),
            "old_chat_member": member(who, old),
            "new_chat_member": member(who, new),
        }
    }


def callback(
    query_id: str, chat_id: int, message_id: int, presser: dict[str, Any], data: str
) -> dict[str, Any]:
    return {
        "callback_query": {
            "id": query_id,
            "from": presser,
            "chat_instance": "ci-1",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": group(chat_id),
                "from": BOT_USER,
                "text": "poll",
            },
        }
    }
