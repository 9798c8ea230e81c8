"""Detectors beyond word lists: links and invites, contact ads, mass mentions, flood and repeats.

Pure functions and small state machines; time is passed in (milliseconds), never read here. The patterns
are ours and fixed (no ambiguous nested repetition), and input is capped at MAX_CHARS, so they run on the
standard `re` engine: the `regex` module's per-call cost (~10 µs) would triple the hot path. Admins'
patterns, which nobody audited, run on `regex` with a time limit (rules/patterns.py).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

from rules.normalize import MAX_CHARS, compact, fold_text, folded

_TLDS = "com|net|org|io|me|gg|cn|cc|xyz|top|vip|co|ru|info|biz|app|link|site|shop|club|tk"
# A bare host is tried only where a host-like run begins (the look-behind), so a run such as "1.1.1.…" or
# "c.a.s.i.n.o" is scanned once, not once from each of its characters (that was quadratic: 0.6 s a
# message). Inside the run each label splits one way only, so backtracking stays linear.
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"']+"
    rf"|(?<![a-z0-9.-])(?:[a-z0-9-]{{1,63}}\.)+(?:{_TLDS})\b(?:/[^\s<>\"']*)?",
    re.IGNORECASE,
)
_INVITE = re.compile(
    r"(?:t\.me|telegram\.me)/(?:\+|joinchat/)[\w-]+|(?:discord\.gg|discord(?:app)?\.com/invite)/[\w-]+",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d){8}(?!\d)|(?<![\w+])\+\d[\d -]{7,16}\d(?!\d)")
# "微信: abc123", "vx abc_123", "QQ 123456": an id announced as such (after normalisation, so 威信/ｖｘ too).
# White space is bounded ({0,3}): "\s*(…|\s)\s*" on a run of spaces tried every way to split it (seconds).
_CONTACT = re.compile(
    r"(?:微信|威信|薇信|徽信|v信|vx|wx|weixin|wechat|扣扣|qq|企鹅|电报|tg|telegram)"
    r"(?:\s{0,3}(?:号|账号|id))?(?:\s{0,3}[:：是为]\s{0,3}|\s{1,3})[a-z0-9_@.-]{5,30}",
    re.IGNORECASE,
)


_MENTION = re.compile(r"(?<![\w@])@[\w.]{2,}|<@!?\d+>")


@dataclass(frozen=True, slots=True)
class Found:
    kind: str  # "link", "invite", "phone", "contact"
    start: int
    end: int
    text: str


def _domain(url: str) -> str:
    host = url.split("://", 1)[-1].split("/", 1)[0].lower()
    return host.removeprefix("www.")


def _allowed(url: str, allow: frozenset[str]) -> bool:
    host = _domain(url)
    return any(host == d or host.endswith("." + d) for d in allow)


def links(text: str, allow: frozenset[str] = frozenset()) -> list[Found]:
    """Links and invites; links to allowed domains (and their subdomains) are not reported."""
    text = text[:MAX_CHARS]
    if "." not in text:
        return []  # every link and invite has a dot
    found = [Found("invite", m.start(), m.end(), m.group()) for m in _INVITE.finditer(text)]
    for m in _URL.finditer(text):
        if any(m.start() < f.end and f.start < m.end() for f in found) or _allowed(m.group(), allow):
            continue
        found.append(Found("link", m.start(), m.end(), m.group()))
    return found


def contacts(text: str) -> list[Found]:
    """Phone numbers, and WeChat/QQ/Telegram ids announced as such, including evasive spellings."""
    found = [Found("phone", m.start(), m.end(), m.group()) for m in _PHONE.finditer(text[:MAX_CHARS])]
    if _CONTACT.search(folded(text)) is None:
        return found  # the common case: no offsets needed
    folded_text, origin = fold_text(text)
    for m in _CONTACT.finditer(folded_text):
        first, last = origin[m.start()], origin[m.end() - 1] + 1
        found.append(Found("contact", first, last, text[first:last]))
    return found


def mention_count(text: str) -> int:
    return len(_MENTION.findall(text[:MAX_CHARS])) if "@" in text else 0


class _Recent:
    """One member's recent messages: their times (anti-flood) and text hashes (anti-repeat)."""

    __slots__ = ("last", "texts", "times")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.texts: list[tuple[int, int]] = []  # (at, hash of the folded text)
        self.last = 0


class FloodTracker:
    """N messages within a window per member (anti-flood), and the same text repeated (anti-spam).

    One compact slot per member who posted within the longest window, in one table ordered by their last
    message: a member idle for longer than any window is forgotten (nothing they did can count any more),
    so memory follows who is talking now, not everyone ever seen; `members` caps it under a flood of
    fresh accounts. Texts are kept as hashes."""

    def __init__(
        self,
        max_messages: int,
        window_ms: int,
        max_repeats: int,
        repeat_window_ms: int,
        members: int = 50_000,
    ) -> None:
        self.max_messages, self.window_ms = max_messages, window_ms
        self.max_repeats, self.repeat_window_ms = max_repeats, repeat_window_ms
        self._recent: OrderedDict[tuple[int, str], _Recent] = OrderedDict()
        self._members = members
        self._horizon = max(window_ms, repeat_window_ms)  # the longest window asked for so far

    def __len__(self) -> int:
        return len(self._recent)

    def _slot(self, group_id: int, user_id: str, at_ms: int) -> _Recent:
        table, key = self._recent, (group_id, user_id)
        entry = table.get(key)
        if entry is None:
            entry = table[key] = _Recent()
            # forget the idle: the oldest entries first, while they are beyond every window
            stale = at_ms - self._horizon
            while table and (oldest := next(iter(table.values()))).last <= stale and oldest is not entry:
                table.popitem(last=False)
            if len(table) > self._members:
                table.popitem(last=False)
        elif at_ms >= entry.last:
            table.move_to_end(key)
        entry.last = max(entry.last, at_ms)
        return entry

    def flooding(
        self,
        group_id: int,
        user_id: str,
        at_ms: int,
        *,
        max_messages: int | None = None,
        window_ms: int | None = None,
    ) -> bool:
        """More than `max_messages` within `window_ms` (per call, so each group can set its own)."""
        window = self.window_ms if window_ms is None else window_ms
        if window > self._horizon:
            self._horizon = window
        times = self._slot(group_id, user_id, at_ms).times
        times.append(at_ms)
        cut = at_ms - window
        if times[0] <= cut:
            times[:] = [t for t in times if t > cut]
        return len(times) > (self.max_messages if max_messages is None else max_messages)

    def repeating(
        self, group_id: int, user_id: str, text: str, at_ms: int, *, max_repeats: int | None = None
    ) -> bool:
        # letters and digits however spelled; a message of symbols or emoji alone ("😀😀") by its symbols
        key_text = compact(text) or "".join(folded(text).split())
        if not key_text:
            return False
        digest = hash(key_text)
        texts = self._slot(group_id, user_id, at_ms).texts
        texts.append((at_ms, digest))
        cut = at_ms - self.repeat_window_ms
        if texts[0][0] <= cut:
            texts[:] = [e for e in texts if e[0] > cut]
        limit = self.max_repeats if max_repeats is None else max_repeats
        return sum(1 for _, d in texts if d == digest) >= limit
