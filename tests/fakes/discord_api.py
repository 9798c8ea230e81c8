"""A fake Discord REST API on 127.0.0.1 for discord.py's real HTTP client, plus gateway payload builders.

Answers carry `Content-Type: application/json` exactly (discord.py reads anything else as text) and a
429 carries a `Via` header (without one discord.py takes it for a Cloudflare ban).
"""

from __future__ import annotations

import asyncio
import itertools
import json
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


def snowflake() -> int:
    return next(_ids)


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
        "id": str(snowflake()),
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


@dataclass
class FakeDiscordApi:
    calls: list[Call] = field(default_factory=list)
    failures: list[tuple[str, str, int, dict[str, Any]]] = field(default_factory=list)
    cdn: dict[str, bytes] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel id -> its messages

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

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(
            body=json.dumps(data).encode(),
            status=status,
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    def _message(
        self, channel_id: str, body: dict[str, Any], author: dict[str, Any] = BOT_USER
    ) -> dict[str, Any]:
        # The bot's member data rides along, as on Discord: discord.py refreshes its cached roles from it.
        roles = [ROLE_BOT] if author is BOT_USER else []
        return {
            **message(snowflake(), author, body.get("content", ""), roles=roles, channel_id=int(channel_id)),
            "components": body.get("components", []),
        }

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
        if parts[0] == "channels" and parts[2:3] == ["messages"] and m in ("POST", "PATCH"):
            return self._json(self._message(parts[1], body or {}))
        if parts[0] == "webhooks" and m in ("POST", "PATCH"):
            return self._json(self._message(str(CHANNEL_ID), body or {}))
        if parts[0] == "interactions":
            callback_type = (body or {}).get("type", 4)
            data = (body or {}).get("data") or {}
            resource: dict[str, Any] = {"type": callback_type}
            if callback_type == 4:
                resource["message"] = self._message(str(CHANNEL_ID), data)
            return self._json(
                {
                    "interaction": {
                        "id": parts[1],
                        "type": 2,
                        "response_message_id": str(snowflake()),
                        "response_message_loading": callback_type == 5,
                        "response_message_ephemeral": bool(data.get("flags", 0) & 64),
                    },
                    "resource": resource,
                }
            )
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
