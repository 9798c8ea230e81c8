"""Shared argument parsing: tokens with quotes, @mentions, durations, numbers. No handler re-does this."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

MAX_TOKENS = 64
MAX_ARGS_CHARS = 4096

_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "「": "」", "『": "』"}


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int  # offsets into the argument string, so a "rest" argument keeps its original spacing
    end: int


def tokenize(text: str) -> list[Token]:
    """Split on white space; quotes (ASCII, Chinese “ ”, 「 」) group words; an unclosed quote runs to the end."""
    text = text[:MAX_ARGS_CHARS]
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n and len(tokens) < MAX_TOKENS:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start = i
        closing = _QUOTES.get(text[i])
        if closing is not None:
            j = text.find(closing, i + 1)
            end = n if j < 0 else j
            tokens.append(Token(text[i + 1 : end], start, min(n, end + 1)))
            i = end + 1
        else:
            while i < n and not text[i].isspace():
                i += 1
            tokens.append(Token(text[start:i], start, i))
    return tokens


# --- numbers -------------------------------------------------------------------------------------------

INT64_MAX = 2**63 - 1  # what every id and amount must fit before it reaches SQL (BIGINT, SQLite INTEGER)
_WIDE = str.maketrans("０１２３４５６７８９＋－", "0123456789+-")
_ASCII_INT = re.compile(r"[+-]?[0-9]{1,19}")


def parse_int(text: str, lo: int = -INT64_MAX, hi: int = INT64_MAX) -> int | None:
    """A whole number typed by a person, or None: ASCII digits after width folding (`１２` is 12), an
    optional sign and thousands commas; never `²` or `①` (which `str.isdigit` accepts and `int` refuses),
    and never outside [lo, hi] (so nothing larger than 64 bits reaches the database)."""
    raw = text.strip().translate(_WIDE).replace(",", "").replace("，", "")
    if not _ASCII_INT.fullmatch(raw):
        return None
    value = int(raw)
    return value if lo <= value <= hi else None


def is_id(text: str) -> bool:
    """An id made of ASCII digits that fits 64 bits (platform user, message and channel ids)."""
    return parse_int(text, 0) is not None and text.isascii() and text.isdigit()


# --- durations -------------------------------------------------------------------------------------------

_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "秒": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "分": 60,
    "分钟": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "时": 3600,
    "小时": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "天": 86400,
    "日": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
    "周": 604800,
    "星期": 604800,
}
_PART = re.compile(r"([0-9]{1,6})\s*([a-z]+|秒|分钟|分|小时|时|天|日|周|星期)", re.IGNORECASE)
MAX_DURATION = timedelta(days=366)


def parse_duration(text: str) -> timedelta:
    """`30m`, `2h`, `7d`, `1h30m`, `90s`, `2小时`, `3天`; bounded to a year."""
    raw = text.strip().lower().translate(_WIDE).replace(" ", "")
    if not raw:
        raise ValueError("empty duration")
    total, pos = 0, 0
    for m in _PART.finditer(raw):
        if m.start() != pos or m.group(2) not in _UNITS:
            raise ValueError(f"not a duration: {text!r}")
        total += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(raw) or total <= 0:
        raise ValueError(f"not a duration: {text!r}")
    if total > MAX_DURATION.total_seconds():
        raise ValueError("duration longer than a year")
    return timedelta(seconds=total)


def format_duration(delta: timedelta) -> str:
    secs = int(delta.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if secs >= size:
            parts.append(f"{secs // size}{unit}")
            secs %= size
    return "".join(parts) or "0s"


# --- mentions --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mention:
    """A reference to a member as typed: `@alice`, a Discord `<@123>`, or a numeric id."""

    raw: str
    username: str | None = None
    user_id: str | None = None


_DISCORD_MENTION = re.compile(r"^<@!?([0-9]{1,19})>$")
_USERNAME = re.compile(r"^@([\w.\-]{1,64})$", re.UNICODE)


def parse_mention(value: Any) -> Mention:
    if isinstance(value, Mention):
        return value
    text = str(value).strip()
    if m := _DISCORD_MENTION.match(text):
        return Mention(text, user_id=m.group(1))
    if m := _USERNAME.match(text):
        return Mention(text, username=m.group(1))
    if is_id(text):
        return Mention(text, user_id=text)
    raise ValueError(f"not a member reference: {text!r}")


def _duration(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


def _integer(value: Any) -> Any:
    if isinstance(value, str):
        number = parse_int(value, -(10**12), 10**12)
        if number is None:
            raise ValueError(f"not a whole number: {value!r}")
        return number
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
MemberArg = Annotated[Mention, BeforeValidator(parse_mention)]
Integer = Annotated[int, BeforeValidator(_integer)]


class Rest:
    """Marks a str argument that takes the rest of the line as typed: `value: Annotated[str, REST]`."""


REST = Rest()
