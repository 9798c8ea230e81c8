"""A fake Telegram Bot API server on 127.0.0.1 that speaks the real JSON shapes and records every call.

python-telegram-bot talks to it exactly as to api.telegram.org: long polling with offset and timeout,
form-encoded requests with JSON-encoded complex values. It can be told to answer a method with a 429
(retry_after), a 5xx, or a 403 once.

It refuses what the Bot API refuses, with the Bot API's words (tdlib and telegram-bot-api are the
reference): HTML that Telegram's parser rejects ("can't parse entities: …"), a text over 4,096 or a
caption over 1,024 characters as a member sees them (tags not counted, entities decoded), an empty text,
`callback_data` over 64 bytes, an inline button with neither a URL nor data, more than 8 buttons in a
row or 100 in a keyboard, a callback answer over 200 characters or for a query that is unknown or
already answered, and a message to a private chat whose user never wrote to the bot. Each refusal is
also appended to `violations`, so a test can require `fake.violations == []`. A button with empty text
is dropped silently by Telegram (tdlib skips it); the fake accepts the call and records a violation.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import serve
from tests.fakes.telegram_html import EntityParseError, length, visible_text

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


MESSAGE_LIMIT = 4096  # characters of a text message as shown
CAPTION_LIMIT = 1024
CALLBACK_ANSWER_LIMIT = 200
CALLBACK_DATA_BYTES = 64
ROW_BUTTONS = 8  # inline keyboard buttons in one row
KEYBOARD_BUTTONS = 100  # in the whole inline keyboard
RAW_TEXT_BYTES = 1 << 15  # telegram-bot-api refuses a longer text before parsing it
_TEXT_METHODS = frozenset({"sendMessage", "editMessageText"})
_CAPTION_METHODS = ("sendPhoto", "sendDocument", "sendVideo", "sendAnimation", "sendAudio", "sendVoice")
_SENDING = {"sendMessage", *_CAPTION_METHODS}


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Violation:
    """A call the real Bot API would refuse (or silently alter), and what it answers."""

    method: str
    description: str
    excerpt: str = ""

    def __str__(self) -> str:
        return f"{self.method}: {self.description}" + (f" [{self.excerpt}]" if self.excerpt else "")


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
    violations: list[Violation] = field(default_factory=list)
    sent: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)  # the bot's messages as shown
    opened: set[int] = field(default_factory=set)  # users who wrote to the bot in private (DMs allowed)
    _queries: dict[str, bool] = field(default_factory=dict)  # callback query id -> answered yet

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
        self._note(update)
        self._changed.set()
        return update_id

    def _note(self, update: dict[str, Any]) -> None:
        """What Telegram learns from an update it delivers: a query to answer, a private chat opened."""
        query = update.get("callback_query")
        if query is not None:
            self._queries.setdefault(str(query["id"]), False)
        message = update.get("message") or {}
        chat = message.get("chat") or {}
        if chat.get("type") == "private":
            self.opened.add(int(chat["id"]))

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
        refused = self._refusal(method, params)
        if refused is not None:
            status, description = refused
            excerpt = str(
                params.get("text") or params.get("caption") or params.get("callback_query_id") or ""
            )
            self.violations.append(Violation(method, description, excerpt[:120]))
            body = {"ok": False, "error_code": status, "description": description}
            return web.json_response(body, status=status)
        handler = getattr(self, f"_m_{method}", None)
        result = await handler(params) if handler is not None else True
        return web.json_response({"ok": True, "result": result})

    # --- what the Bot API refuses ----------------------------------------------------------------------

    def _refusal(self, method: str, params: dict[str, Any]) -> tuple[int, str] | None:
        """(status, description) when the real Bot API would refuse this call; None when it takes it."""
        if method in _SENDING:
            chat_id = _int(params.get("chat_id"))
            if chat_id is not None and chat_id > 0 and chat_id not in self.opened:
                return 403, "Forbidden: bot can't initiate conversation with a user"
        if method in _TEXT_METHODS:
            refused = self._text_refusal(method, params)
            if refused:
                return 400, refused
        if method in _CAPTION_METHODS or method == "editMessageCaption":
            refused = self._caption_refusal(params)
            if refused:
                return 400, refused
        if "reply_markup" in params:
            refused = self._markup_refusal(method, params["reply_markup"])
            if refused:
                return 400, refused
        if method == "answerCallbackQuery":
            return self._answer_refusal(params)
        return None

    def _text_refusal(self, method: str, params: dict[str, Any]) -> str | None:
        raw = str(params.get("text") or "")
        if not raw:
            return "Bad Request: message text is empty"
        if len(raw.encode("utf-8")) > RAW_TEXT_BYTES:
            return "Bad Request: text is too long"
        shown, refused = _shown(raw, params.get("parse_mode"))
        if refused:
            return refused
        if not shown.strip():
            return "Bad Request: message text is empty"
        if length(shown) > MESSAGE_LIMIT:
            # tdlib checks a bot's new message itself; an edit is refused by the server (MESSAGE_TOO_LONG)
            return (
                "Bad Request: message is too long"
                if method == "sendMessage"
                else "Bad Request: MESSAGE_TOO_LONG"
            )
        return None

    @staticmethod
    def _caption_refusal(params: dict[str, Any]) -> str | None:
        raw = str(params.get("caption") or "")
        if not raw:
            return None
        shown, refused = _shown(raw, params.get("parse_mode"))
        if refused:
            return refused
        if length(shown) > CAPTION_LIMIT:
            return "Bad Request: message caption is too long"
        return None

    def _markup_refusal(self, method: str, markup: Any) -> str | None:
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except json.JSONDecodeError:
                return "Bad Request: can't parse reply keyboard markup JSON object"
        rows = (markup or {}).get("inline_keyboard") if isinstance(markup, dict) else None
        if not rows:
            return None
        total = 0
        for row in rows:
            if len(row) > ROW_BUTTONS:
                return "Bad Request: reply markup is too long"
            for button in row:
                total += 1
                url, data = button.get("url"), button.get("callback_data")
                if not url and not data:
                    return (
                        "Bad Request: can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if data and len(str(data).encode("utf-8")) > CALLBACK_DATA_BYTES:
                    return "Bad Request: BUTTON_DATA_INVALID"
                if not button.get("text"):  # tdlib drops it without a word: the member never sees it
                    self.violations.append(
                        Violation(method, "a button with empty text is dropped", str(button))
                    )
        if total > KEYBOARD_BUTTONS:
            return "Bad Request: reply markup is too long"
        return None

    def _answer_refusal(self, params: dict[str, Any]) -> tuple[int, str] | None:
        query_id = str(params.get("callback_query_id", ""))
        if len(str(params.get("text") or "")) > CALLBACK_ANSWER_LIMIT:
            return 400, "Bad Request: MESSAGE_TOO_LONG"
        if self._queries.get(query_id, True):  # unknown, or answered already
            return 400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
        self._queries[query_id] = True
        return None

    def answered(self, query_id: str) -> bool:
        """Whether the bot answered this callback query (the member's button stops spinning)."""
        return self._queries.get(query_id, False)

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
        message = {
            "message_id": int(params.get("message_id") or self.new_message_id()),
            "date": int(time.time()),
            "chat": chat,
            "from": BOT_USER,
            "text": params.get("text", ""),
        }
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            message["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        return message

    def _remember(self, message: dict[str, Any]) -> dict[str, Any]:
        """Keep the bot's message as members see it (a button press carries it back)."""
        key = (int(message["chat"]["id"]), int(message["message_id"]))
        self.sent[key] = {**self.sent.get(key, {}), **message}
        return message

    async def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._remember(self._message(params))

    async def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._remember({**self._message(params), "document": self._uploaded(params.get("document"))})

    async def _m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        up = self._uploaded(params.get("photo"))
        return self._remember({**self._message(params), "photo": [{**up, "width": 1200, "height": 630}]})

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
        message = self._message(params)
        if "reply_markup" not in message:  # an edit without markup removes the keyboard
            self.sent.get((int(params["chat_id"]), int(params["message_id"])), {}).pop("reply_markup", None)
        return self._remember(message)

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = {**self._message(params), "text": self.sent.get(key, {}).get("text", "")}
        if "reply_markup" not in message:
            self.sent.get(key, {}).pop("reply_markup", None)
        return self._remember(message)

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
                "gifts_from_channels": False,  # required by python-telegram-bot 22.6+
            },
            "permissions": DEFAULT_PERMISSIONS,
        }


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _shown(raw: str, parse_mode: Any) -> tuple[str, str | None]:
    """The text as members see it, or Telegram's refusal of its markup."""
    if str(parse_mode or "").lower() != "html":
        return raw, None
    try:
        return visible_text(raw), None
    except EntityParseError as exc:
        return "", f"Bad Request: can't parse entities: {exc}"


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
    query_id: str,
    chat_id: int,
    message_id: int,
    presser: dict[str, Any],
    data: str,
    *,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A button press; `message` is the bot's message as sent (FakeBotApi.sent), else a stand-in."""
    shown = message or {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": group(chat_id),
        "from": BOT_USER,
        "text": "poll",
    }
    return {
        "callback_query": {
            "id": query_id,
            "from": presser,
            "chat_instance": "ci-1",
            "data": data,
            "message": shown,
        }
    }
