"""A fake Discord REST API on 127.0.0.1 for discord.py's real HTTP client, plus gateway payload builders.

Answers carry `Content-Type: application/json` exactly (discord.py reads anything else as text) and a
429 carries a `Via` header (without one discord.py takes it for a Cloudflare ban).

It refuses what Discord refuses, in Discord's shapes: a message whose content is over 2,000 characters,
with more than 5 action rows or 5 buttons in a row, a custom_id over 100 characters (or repeated), a label
over 80 (400 code 50035 "Invalid Form Body" with the nested `errors`); an empty message (50006); a second
initial response to an interaction (400 code 40060) or one later than 3 s after the interaction was
delivered (404 code 10062); a follow-up, or an edit or deletion of the original response, before any
initial response (404 code 10015); an ephemeral message edited or deleted through a channel's endpoint
instead of its interaction's webhook (404 code 10008). Interactions are timed from `delivered(payload)`
(call it as the payload goes to discord.py), else from when the payload was built. Every message it
creates is kept in
`messages` with its visibility: the first follow-up (or `@original` edit) after a deferral answers the
"thinking…" message and keeps the deferral's visibility, whatever flags it asks for, as Discord does (a
mismatch is recorded). Each refusal is also appended to `violations`, so a test can require
`fake.violations == []`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.loopback import serve

APP_ID = 700_000_000_000_000_001
BOT_ID = 700_000_000_000_000_002
GUILD_ID = 700_000_000_000_000_100
CHANNEL_ID = 700_000_000_000_000_200
ROLE_ADMIN, ROLE_LEVEL, ROLE_BOT, ROLE_HIGH = (700_000_000_000_000_300 + i for i in range(4))
MANAGE_GUILD = 1 << 5
ALL_PERMISSIONS = (1 << 41) - 1
_ids = itertools.count(800_000_000_000_000_000)
CONTENT_LIMIT = 2000
ACTION_ROWS = 5
ROW_BUTTONS = 5
CUSTOM_ID_LIMIT = 100
LABEL_LIMIT = 80
ANSWER_WINDOW = 3.0  # seconds Discord waits for an interaction's initial response
EPHEMERAL = 64
COMMAND_CALLBACKS = frozenset({4, 5, 9})  # an application command: a message, "thinking…", a modal
COMPONENT_CALLBACKS = frozenset({4, 5, 6, 7, 9})  # a component may also update its message (6, 7)


@dataclass
class Built:
    """An interaction payload as built: its token, when it was built, its kind, the message it sits on."""

    interaction_id: str
    token: str
    kind: int
    at: float
    message_id: str | None


_BUILT: dict[str, Built] = {}  # interaction id -> what the builder made (one fake at a time, as Route.BASE)
_TOKENS: dict[str, str] = {}  # token -> interaction id


def snowflake() -> int:
    return next(_ids)


DISCORD_EPOCH_MS = 1_420_070_400_000


def now_snowflake() -> int:
    """An id of this moment, as Discord gives an interaction (discord.py dates it by its id: the adapter
    tells a fresh press from a stale one by it)."""
    return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(_ids) & 0x3FFFFF)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def user(uid: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(uid),
        "username": name.lower(),
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
    }


BOT_USER = user(BOT_ID, "Qun", bot=True)


def member(u: dict[str, Any], roles: list[int] | None = None) -> dict[str, Any]:
    return {
        "user": u,
        "roles": [str(r) for r in roles or []],
        "joined_at": "2026-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
    }


def role(rid: int, name: str, position: int, permissions: int) -> dict[str, Any]:
    return {
        "id": str(rid),
        "name": name,
        "position": position,
        "permissions": str(permissions),
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def ready() -> dict[str, Any]:
    return {
        "v": 10,
        "user": BOT_USER,
        "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
        "session_id": "s1",
        "resume_gateway_url": "wss://127.0.0.1",
        "application": {"id": str(APP_ID), "flags": 0},
    }


def guild(members: list[dict[str, Any]], guild_id: int = GUILD_ID) -> dict[str, Any]:
    everyone = role(guild_id, "@everyone", 0, 1024 | 2048)
    return {
        "id": str(guild_id),
        "name": "测试服务器",
        "icon": None,
        "owner_id": "1",
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "preferred_locale": "zh-CN",
        "features": [],
        "emojis": [],
        "stickers": [],
        "system_channel_id": str(CHANNEL_ID),
        "system_channel_flags": 0,
        "large": False,
        "unavailable": False,
        "member_count": len(members) + 1,
        "roles": [
            everyone,
            role(ROLE_ADMIN, "Mods", 1, MANAGE_GUILD),
            role(ROLE_LEVEL, "活跃成员", 2, 0),
            role(ROLE_BOT, "Qunbot", 3, ALL_PERMISSIONS),
            role(ROLE_HIGH, "Owners", 5, 0),
        ],
        "channels": [
            {
                "id": str(CHANNEL_ID),
                "type": 0,
                "name": "general",
                "position": 0,
                "permission_overwrites": [],
                "guild_id": str(guild_id),
            }
        ],
        "members": [member(BOT_USER, [ROLE_BOT]), *members],
        "threads": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "voice_states": [],
        "presences": [],
    }


def message(
    mid: int,
    author: dict[str, Any],
    content: str,
    *,
    roles: list[int] | None = None,
    channel_id: int = CHANNEL_ID,
) -> dict[str, Any]:
    return {
        "id": str(mid),
        "channel_id": str(channel_id),
        "guild_id": str(GUILD_ID),
        "author": author,
        "member": {k: v for k, v in member(author, roles).items() if k != "user"},
        "content": content,
        "timestamp": now_iso(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 0,
        "flags": 0,
    }


def interaction(
    kind: int,
    data: dict[str, Any],
    invoker: dict[str, Any],
    *,
    admin: bool = False,
    message_payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    perms = ALL_PERMISSIONS if admin else 1024 | 2048
    payload: dict[str, Any] = {
        "id": str(now_snowflake()),
        "application_id": str(APP_ID),
        "type": kind,
        "data": data,
        "guild_id": str(GUILD_ID),
        "channel_id": str(CHANNEL_ID),
        "channel": {
            "id": str(CHANNEL_ID),
            "type": 0,
            "name": "general",
            "guild_id": str(GUILD_ID),
            "position": 0,
            "permission_overwrites": [],
        },
        "member": {**member(invoker, [ROLE_ADMIN] if admin else []), "permissions": str(perms)},
        "token": f"tok-{snowflake()}",
        "version": 1,
        "app_permissions": str(ALL_PERMISSIONS),
        "locale": "zh-CN",
        "guild_locale": "zh-CN",
        "entitlements": [],
        "authorizing_integration_owners": {},
        "context": 0,
        "attachment_size_limit": 8_388_608,
    }
    if message_payload is not None:
        payload["message"] = message_payload
    _BUILT[payload["id"]] = Built(
        payload["id"],
        payload["token"],
        kind,
        time.monotonic(),
        str(message_payload["id"]) if message_payload is not None else None,
    )
    _TOKENS[payload["token"]] = payload["id"]
    return payload


def slash(
    name: str, invoker: dict[str, Any], options: list[dict[str, Any]] | None = None, *, admin: bool = False
) -> dict[str, Any]:
    data = {"id": str(snowflake()), "name": name, "type": 1, "options": options or []}
    return interaction(2, data, invoker, admin=admin)


def button(custom_id: str, invoker: dict[str, Any], message_payload: dict[str, Any]) -> dict[str, Any]:
    return interaction(
        3, {"custom_id": custom_id, "component_type": 2}, invoker, message_payload=message_payload
    )


@dataclass
class Call:
    method: str
    path: str
    body: Any
    query: dict[str, str]


@dataclass(frozen=True)
class Violation:
    """A call Discord would refuse (or silently alter), and what it answers."""

    method: str
    path: str
    code: int
    message: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.method} {self.path}: {self.code} {self.message}" + (
            f" ({self.detail})" if self.detail else ""
        )


@dataclass
class Created:
    """A message the fake created: who sees it, and what it says."""

    id: str
    channel_id: str
    content: str
    components: list[dict[str, Any]]
    ephemeral: bool
    via: str  # "channel", "callback", "followup"
    interaction_id: str | None = None
    deleted: bool = False


@dataclass
class Answering:
    """One interaction's answering, as Discord tracks it."""

    interaction_id: str
    token: str
    kind: int  # 2 application command, 3 component
    delivered: float
    message_id: str | None = None  # a component's message
    callbacks: list[tuple[int, float]] = field(default_factory=list)  # (type, seconds after delivery)
    ephemeral: bool = False  # of the original response (a deferral decides it)
    loading: bool = False  # a "thinking…" message not resolved yet
    original: str | None = None  # the original response's message id
    followups: list[str] = field(default_factory=list)

    @property
    def callback_type(self) -> int | None:
        return self.callbacks[0][0] if self.callbacks else None


@dataclass
class FakeDiscordApi:
    calls: list[Call] = field(default_factory=list)
    failures: list[tuple[str, str, int, dict[str, Any]]] = field(default_factory=list)
    cdn: dict[str, bytes] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel id -> its messages
    violations: list[Violation] = field(default_factory=list)
    messages: dict[str, Created] = field(default_factory=dict)  # every message made, by id
    answering: dict[str, Answering] = field(default_factory=dict)  # interaction id -> its answering

    def __post_init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._called = asyncio.Event()
        self.base_url = ""

    async def wait_until(self, ready: Callable[[], bool], within: float = 10.0) -> None:
        """Until `ready()` holds, re-checked after every recorded call."""
        try:
            async with asyncio.timeout(within):
                while not ready():
                    self._called.clear()
                    await self._called.wait()
        except TimeoutError:
            raise AssertionError(
                f"gave up waiting; calls: {[(c.method, c.path) for c in self.calls]}"
            ) from None

    async def start(self) -> str:
        self._runner, self.base_url = await serve("/{tail:.*}", self._route)
        return self.base_url

    async def _route(self, request: web.Request) -> web.Response:
        tail = request.match_info["tail"]
        if tail.startswith("attachments/"):  # the CDN: a file a member attached
            data = self.cdn.get(tail.removeprefix("attachments/"))
            return web.Response(body=data) if data is not None else web.Response(status=404)
        if not tail.startswith("api/v10/"):
            return web.Response(status=404)
        return await self._handle(request, "/" + tail.removeprefix("api/v10/"))

    def attach(self, name: str, data: bytes) -> dict[str, Any]:
        """A file on the fake CDN, as a message's attachment object."""
        key = f"{snowflake()}/{name}"
        self.cdn[key] = data
        return {
            "id": key.split("/")[0],
            "filename": name,
            "size": len(data),
            "url": f"{self.base_url}/attachments/{key}",
            "proxy_url": f"{self.base_url}/attachments/{key}",
            "content_type": "text/plain; charset=utf-8",
        }

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(self, method: str, path_part: str, status: int, body: dict[str, Any]) -> None:
        self.failures.append((method, path_part, status, body))

    def of(self, method: str, path_part: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and path_part in c.path]

    def delivered(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Start an interaction's 3-second window now (as it goes to discord.py); returns the payload."""
        built = _BUILT.get(str(payload["id"]))
        message = payload.get("message")
        self.answering[str(payload["id"])] = Answering(
            str(payload["id"]),
            str(payload["token"]),
            int(payload["type"]),
            time.monotonic(),
            str(message["id"]) if message else (built.message_id if built else None),
        )
        _TOKENS[str(payload["token"])] = str(payload["id"])
        return payload

    def answers(self, interaction_id: str | int) -> list[Created]:
        """The messages an interaction's responses made (original first, then follow-ups)."""
        state = self.answering.get(str(interaction_id))
        if state is None:
            return []
        ids = ([state.original] if state.original else []) + state.followups
        return [self.messages[i] for i in ids if i in self.messages]

    def _answering(self, interaction_id: str) -> Answering | None:
        state = self.answering.get(interaction_id)
        if state is None and interaction_id in _BUILT:
            built = _BUILT[interaction_id]
            state = Answering(interaction_id, built.token, built.kind, built.at, built.message_id)
            self.answering[interaction_id] = state
        return state

    def _refuse(
        self, request: web.Request, path: str, status: int, body: dict[str, Any], detail: str = ""
    ) -> web.Response:
        self.violations.append(Violation(request.method, path, body["code"], body["message"], detail))
        return self._json(body, status)

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(
            body=json.dumps(data).encode(),
            status=status,
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    def _message(
        self,
        channel_id: str,
        body: dict[str, Any],
        author: dict[str, Any] = BOT_USER,
        *,
        via: str = "channel",
        ephemeral: bool = False,
        interaction_id: str | None = None,
        reuse: str | None = None,
    ) -> dict[str, Any]:
        """A message made (or, with `reuse`, rewritten) as Discord returns it, kept in `messages`."""
        # The bot's member data rides along, as on Discord: discord.py refreshes its cached roles from it.
        roles = [ROLE_BOT] if author is BOT_USER else []
        mid = int(reuse) if reuse else snowflake()
        old = self.messages.get(str(mid))
        content = body.get("content") if "content" in body else (old.content if old else "")
        components = body.get("components") if "components" in body else (old.components if old else [])
        self.messages[str(mid)] = Created(
            str(mid),
            str(channel_id),
            content or "",
            components or [],
            ephemeral,
            old.via if old else via,
            interaction_id if old is None else old.interaction_id,
        )
        payload = {
            **message(mid, author, content or "", roles=roles, channel_id=int(channel_id)),
            "components": components or [],
        }
        if ephemeral:
            payload["flags"] = EPHEMERAL
        return payload

    def _edit(self, message_id: str, body: dict[str, Any]) -> dict[str, Any]:
        old = self.messages.get(message_id)
        channel = old.channel_id if old else str(CHANNEL_ID)
        return self._message(channel, body, reuse=message_id, ephemeral=bool(old and old.ephemeral))

    # --- interactions ----------------------------------------------------------------------------------

    def _callback(
        self, request: web.Request, path: str, interaction_id: str, body: dict[str, Any]
    ) -> web.Response:
        """POST /interactions/{id}/{token}/callback: the one initial response, within 3 seconds."""
        state = self._answering(interaction_id)
        if state is None:
            return self._refuse(
                request, path, 404, {"message": "Unknown interaction", "code": 10062}, "never delivered"
            )
        if state.callbacks:
            return self._refuse(
                request, path, 400, {"message": "Interaction has already been acknowledged.", "code": 40060}
            )
        late = time.monotonic() - state.delivered
        if late > ANSWER_WINDOW:
            return self._refuse(
                request,
                path,
                404,
                {"message": "Unknown interaction", "code": 10062},
                f"answered after {late:.2f} s",
            )
        kind = int(body.get("type", 0))
        allowed = COMMAND_CALLBACKS if state.kind == 2 else COMPONENT_CALLBACKS
        if kind not in allowed:
            choices = _err("BASE_TYPE_CHOICES", f"Value must be one of {sorted(allowed)}.")
            note = f"callback type {kind} for interaction type {state.kind}"
            return self._refuse(request, path, 400, _invalid({"type": {"_errors": [choices]}}), note)
        data = body.get("data") or {}
        if kind in (4, 7):
            refused = _form_errors(data, creating=kind == 4, prefix="data")
            if refused is not None:
                return self._refuse(request, path, *refused)
        state.callbacks.append((kind, late))
        ephemeral = bool(int(data.get("flags", 0) or 0) & EPHEMERAL)
        resource: dict[str, Any] = {"type": kind}
        if kind in (4, 5):
            state.ephemeral, state.loading = ephemeral, kind == 5
            made = self._message(
                str(CHANNEL_ID), data if kind == 4 else {}, via="callback", ephemeral=ephemeral,
                interaction_id=interaction_id,
            )  # fmt: skip
            state.original = made["id"]
            if kind == 4:
                resource["message"] = made
        elif kind == 7 and state.message_id:
            resource["message"] = self._edit(state.message_id, data)
        return self._json(
            {
                "interaction": {
                    "id": interaction_id,
                    "type": state.kind,
                    "response_message_id": state.original or state.message_id or str(snowflake()),
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": ephemeral,
                },
                "resource": resource,
            }
        )

    def _webhook(
        self, request: web.Request, path: str, parts: list[str], body: dict[str, Any]
    ) -> web.Response:
        """An interaction's webhook: follow-ups, and the original response edited or deleted."""
        token = parts[2] if len(parts) > 2 else ""
        state = self._answering(_TOKENS.get(token, ""))
        unknown = {"message": "Unknown Webhook", "code": 10015}
        if state is None or not state.callbacks:
            return self._refuse(request, path, 404, unknown, "no initial response yet")
        m = request.method
        target = parts[4] if len(parts) > 4 else None  # messages/{id or @original}
        if target is None and m == "POST":
            refused = _form_errors(body, creating=True)
            if refused is not None:
                return self._refuse(request, path, *refused)
            asked = bool(int(body.get("flags", 0) or 0) & EPHEMERAL)
            if state.loading:  # the first follow-up answers the "thinking…" message, as deferred
                return self._json(self._resolve(request, path, state, body, asked))
            made = self._message(
                str(CHANNEL_ID), body, via="followup", ephemeral=asked, interaction_id=state.interaction_id
            )
            state.followups.append(made["id"])
            return self._json(made)
        original = target == "@original"
        message_id = (state.original or state.message_id) if original else target
        if message_id is not None and message_id not in self.messages and message_id == state.message_id:
            # a component's message the test built rather than the fake: it exists on Discord
            self.messages[message_id] = Created(message_id, str(CHANNEL_ID), "", [], False, "channel")
        if message_id is None or message_id not in self.messages or self.messages[message_id].deleted:
            return self._refuse(request, path, 404, {"message": "Unknown Message", "code": 10008})
        if m == "DELETE":
            self.messages[message_id].deleted = True
            state.loading = state.loading and not original
            return web.Response(status=204)
        if m == "PATCH":
            refused = _form_errors(body, creating=False)
            if refused is not None:
                return self._refuse(request, path, *refused)
            if original and state.loading:
                return self._json(self._resolve(request, path, state, body, state.ephemeral))
            return self._json(self._edit(message_id, body))
        return web.Response(status=204)

    def _resolve(
        self, request: web.Request, path: str, state: Answering, body: dict[str, Any], asked: bool
    ) -> dict[str, Any]:
        """The deferred "thinking…" message gets its content; it stays as visible as the deferral made it."""
        state.loading = False
        if asked != state.ephemeral:
            shown = "ephemeral" if state.ephemeral else "public"
            note = f"asked {'ephemeral' if asked else 'public'}, shown {shown}"
            self.violations.append(
                Violation(request.method, path, 0, "visibility fixed by the deferral", note)
            )
        assert state.original is not None
        made = self._edit(state.original, body)
        return made

    async def _handle(self, request: web.Request, path: str) -> web.Response:
        body: Any = None
        if request.can_read_body:
            if request.content_type.startswith("multipart"):  # parsed from the stream, not read first
                form = await request.post()
                body = json.loads(str(form.get("payload_json", "{}")))
                for key, value in form.items():  # the uploaded files, as Discord receives them
                    if isinstance(value, web.FileField):
                        body.setdefault("_files", []).append(
                            {"field": key, "filename": value.filename, "data": value.file.read()}
                        )
            else:
                raw = await request.read()
                if request.content_type == "application/json" and raw:
                    body = json.loads(raw)
        self.calls.append(Call(request.method, path, body, dict(request.query)))
        self._called.set()
        for i, (method, part, status, payload) in enumerate(self.failures):
            if method == request.method and part in path:
                del self.failures[i]
                headers = {"Via": "1.1 google"} if status == 429 else {}
                return self._json(payload, status, headers)
        parts = path.strip("/").split("/")
        m = request.method
        if path == "/users/@me":
            return self._json(BOT_USER)
        if path == "/oauth2/applications/@me":
            return self._json(
                {
                    "id": str(APP_ID),
                    "name": "Qun",
                    "description": "",
                    "icon": None,
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "owner": user(1, "owner"),
                    "verify_key": "k",
                    "flags": 0,
                    "summary": "",
                }
            )
        if parts[0] == "channels" and parts[3:4] == ["bulk-delete"]:
            return web.Response(status=204)
        if parts[0] == "channels" and parts[2:] == ["messages"] and m == "GET":  # history, newest first
            q = request.query
            before, after = int(q.get("before", 2**63)), int(q.get("after", 0))
            chosen = sorted(
                (x for x in self.history.get(parts[1], []) if after < int(x["id"]) < before),
                key=lambda x: int(x["id"]),
                reverse=True,
            )
            limit = int(q.get("limit", 50))
            return self._json(chosen[-limit:] if "after" in q else chosen[:limit])
        if (
            parts[0] == "channels"
            and parts[2:3] == ["messages"]
            and len(parts) == 4
            and m in ("PATCH", "DELETE")
        ):
            made = self.messages.get(parts[3])
            if made is not None and made.ephemeral:  # only its interaction's webhook reaches it
                note = "an ephemeral message is edited or deleted through its interaction's webhook only"
                return self._refuse(request, path, 404, {"message": "Unknown Message", "code": 10008}, note)
            if made is not None and m == "DELETE":
                made.deleted = True
        if parts[0] == "channels" and parts[2:3] == ["messages"] and m in ("POST", "PATCH"):
            refused = _form_errors(body or {}, creating=m == "POST" and len(parts) == 3)
            if refused is not None:
                return self._refuse(request, path, *refused)
            if m == "PATCH" and len(parts) > 3:
                return self._json(self._edit(parts[3], body or {}))
            return self._json(self._message(parts[1], body or {}))
        if parts[0] == "webhooks":
            return self._webhook(request, path, parts, body or {})
        if parts[0] == "interactions" and m == "POST":
            return self._callback(request, path, parts[1], body or {})
        if parts[0] == "applications" and m == "PUT":
            return self._json(
                [
                    {**c, "id": str(snowflake()), "application_id": str(APP_ID), "version": "1"}
                    for c in body or []
                ]
            )
        if parts[0] == "guilds" and parts[2:3] == ["members"] and len(parts) == 4 and m in ("GET", "PATCH"):
            return self._json(
                {
                    **member(user(int(parts[3]), f"u{parts[3]}")),
                    "communication_disabled_until": (body or {}).get("communication_disabled_until"),
                }
            )
        if parts[0] == "guilds" and parts[2:] == ["roles"] and m == "POST":  # a new role, at the bottom
            data = body or {}
            made = role(snowflake(), data.get("name", "new role"), 1, int(data.get("permissions", 0) or 0))
            return self._json(made)
        if path == "/users/@me/channels":
            recipient = (body or {}).get("recipient_id", "1")
            return self._json({"id": str(snowflake()), "type": 1, "recipients": [user(int(recipient), "dm")]})
        if parts[0] == "users" and m == "GET":
            return self._json(user(int(parts[1]), f"u{parts[1]}"))
        return web.Response(status=204)


# --- Discord's form validation -----------------------------------------------------------------------


def _err(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _invalid(errors: dict[str, Any]) -> dict[str, Any]:
    return {"code": 50035, "errors": errors, "message": "Invalid Form Body"}


def _put(tree: dict[str, Any], path: list[str], error: dict[str, str]) -> None:
    for key in path:
        tree = tree.setdefault(key, {})
    tree.setdefault("_errors", []).append(error)


def _form_errors(
    body: dict[str, Any], *, creating: bool, prefix: str | None = None
) -> tuple[int, dict[str, Any], str] | None:
    """(status, Discord's error body, a note) when Discord would refuse this message body; else None."""
    errors: dict[str, Any] = {}
    base = [prefix] if prefix else []
    content = body.get("content") or ""
    notes = []
    if len(content) > CONTENT_LIMIT:
        _put(
            errors,
            [*base, "content"],
            _err("BASE_TYPE_MAX_LENGTH", f"Must be {CONTENT_LIMIT} or fewer in length."),
        )
        notes.append(f"content of {len(content)} characters")
    rows = body.get("components") or []
    if len(rows) > ACTION_ROWS:
        _put(
            errors,
            [*base, "components"],
            _err("BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {ACTION_ROWS} in length."),
        )
        notes.append(f"{len(rows)} action rows")
    seen: set[str] = set()
    for r, row in enumerate(rows):
        children = row.get("components") or []
        where = [*base, "components", str(r), "components"]
        if not 1 <= len(children) <= ROW_BUTTONS:
            _put(
                errors, where, _err("BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {ROW_BUTTONS} in length.")
            )
            notes.append(f"row {r} has {len(children)} buttons")
        for b, button in enumerate(children):
            label = button.get("label") or ""
            if len(label) > LABEL_LIMIT:
                _put(
                    errors,
                    [*where, str(b), "label"],
                    _err("BASE_TYPE_MAX_LENGTH", f"Must be {LABEL_LIMIT} or fewer in length."),
                )
                notes.append(f"label of {len(label)} characters")
            if button.get("style") == 5:  # a link button has a URL and no custom_id
                continue
            custom_id = str(button.get("custom_id") or "")
            if not 1 <= len(custom_id) <= CUSTOM_ID_LIMIT:
                _put(
                    errors,
                    [*where, str(b), "custom_id"],
                    _err("BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {CUSTOM_ID_LIMIT} in length."),
                )
                notes.append(f"custom_id of {len(custom_id)} characters")
            elif custom_id in seen:
                _put(
                    errors,
                    [*where, str(b), "custom_id"],
                    _err("COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"),
                )
                notes.append(f"custom_id {custom_id!r} twice")
            seen.add(custom_id)
    if errors:
        return 400, _invalid(errors), "; ".join(notes)
    has_files = bool(body.get("_files") or body.get("attachments"))
    empty = not (
        content or body.get("embeds") or rows or has_files or body.get("sticker_ids") or body.get("poll")
    )
    if creating and empty:
        return 400, {"message": "Cannot send an empty message", "code": 50006}, "no content"
    return None


def message_command(
    name: str, invoker: dict[str, Any], target: dict[str, Any], *, admin: bool = False
) -> dict[str, Any]:
    """A message context-menu command (Apps → "Pin") used on `target`, a message payload: Discord sends
    the command's default name, the target's id, and the message itself under resolved.messages."""
    data = {
        "id": str(snowflake()),
        "name": name,
        "type": 3,
        "target_id": target["id"],
        "resolved": {"messages": {target["id"]: target}},
    }
    return interaction(2, data, invoker, admin=admin)
