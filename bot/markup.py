"""A member mention inside otherwise plain text. Handlers write plain text; adapters render mentions in the
platform's way (a Telegram text link to the user, a Discord <@id> allowed to ping only that user, @name
in the console). Everything around a mention stays plain text and is escaped by the adapter."""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN, _SEP, _CLOSE = "\x02", "\x1f", "\x03"
_TOKEN = re.compile(f"{_OPEN}([^{_SEP}{_CLOSE}]+){_SEP}([^{_CLOSE}]*){_CLOSE}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
MAX_NAME = 64


def clean_name(name: str) -> str:
    """A display name safe to show: no control or bidi characters, bounded, and no mass-ping words."""
    text = _CONTROL.sub("", name).strip()[:MAX_NAME] or "?"
    return text.replace("@everyone", "@\u2060everyone").replace("@here", "@\u2060here")


def mention(user_id: str, name: str) -> str:
    return f"{_OPEN}{_CONTROL.sub('', user_id)}{_SEP}{clean_name(name)}{_CLOSE}"


@dataclass(frozen=True, slots=True)
class Mentioned:
    user_id: str
    name: str


def split(text: str) -> list[str | Mentioned]:
    """Plain pieces and mentions, in order."""
    out: list[str | Mentioned] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        if m.start() > pos:
            out.append(text[pos : m.start()])
        out.append(Mentioned(m.group(1), m.group(2)))
        pos = m.end()
    if pos < len(text):
        out.append(text[pos:])
    return out


def plain(text: str) -> str:
    """Mentions as @name (console, logs, length checks)."""
    return "".join(p if isinstance(p, str) else f"@{p.name}" for p in split(text))


def mentioned_ids(text: str) -> list[str]:
    return [p.user_id for p in split(text) if isinstance(p, Mentioned)]
