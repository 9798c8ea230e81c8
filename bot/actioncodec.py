"""Actions to JSON and back, for the durable outbox (storage/outbox.py).

Actions are small frozen dataclasses of strings, numbers, tuples of strings, datetimes, a ChatRef, a
keyboard and, for a DM, a fallback action; that is all this codec has to know.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from bot import actions as A
from bot.events import ChatRef

_TYPES: dict[str, type[A.Action]] = {
    cls.__name__: cls
    for cls in (
        A.Send,
        A.Reply,
        A.EditMessage,
        A.Delete,
        A.Pin,
        A.Mute,
        A.Unmute,
        A.Kick,
        A.Ban,
        A.Unban,
        A.GrantRole,
        A.AnswerButton,
        A.DirectMessage,
        A.SendFile,
        A.Purge,
        A.RestrictKinds,
    )
}


def _plain(action: A.Action) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(action).__name__}
    for f in dataclasses.fields(action):
        value = getattr(action, f.name)
        if isinstance(value, ChatRef):
            value = [value.platform, value.chat_id, value.title]
        elif isinstance(value, datetime):
            value = {"at": value.isoformat()}
        elif f.name == "buttons":
            value = [[[b.label, b.data] for b in row] for row in value]
        elif isinstance(value, A.Action):
            value = _plain(value)
        out[f.name] = value
    return out


def _build(data: dict[str, Any]) -> A.Action:
    cls = _TYPES[data.pop("type")]
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if name == "chat":
            value = ChatRef(*value)
        elif name == "buttons":
            value = tuple(tuple(A.Button(label, payload) for label, payload in row) for row in value)
        elif isinstance(value, dict) and "at" in value and len(value) == 1:
            value = datetime.fromisoformat(value["at"])
        elif isinstance(value, dict) and "type" in value:
            value = _build(value)
        elif isinstance(value, list):
            value = tuple(value)  # a tuple of strings (RestrictKinds' kinds and exemptions)
        kwargs[name] = value
    return cls(**kwargs)


def encode(action: A.Action) -> str:
    return json.dumps(_plain(action), ensure_ascii=False, separators=(",", ":"))


def decode(text: str) -> A.Action:
    return _build(json.loads(text))
