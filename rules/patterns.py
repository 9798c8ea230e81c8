"""Admin-written regex rules, bounded: validated when added, and every search has a time limit, so a
hostile pattern (catastrophic backtracking) or a 100 KB message can never stall the bot."""

from __future__ import annotations

from dataclasses import dataclass

import regex

from rules.normalize import MAX_CHARS

MAX_PATTERN = 300
SEARCH_TIMEOUT = 0.05  # seconds per pattern per message
# Seconds all of a group's regexes may take on one message together: 19 patterns like `(a+)+$` against a
# 4,096-character message cost 0.5-1 s at 50 ms each (two subjects apiece), which one member can repeat.
MESSAGE_BUDGET = 0.1


class BadPattern(ValueError):
    """The pattern is refused: `detail` is the regex library's reason (English), `position` where."""

    def __init__(self, detail: str, position: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.position = position


@dataclass(frozen=True, slots=True)
class Pattern:
    source: str
    compiled: regex.Pattern[str]


def compile_pattern(source: str) -> Pattern:
    if not source or len(source) > MAX_PATTERN:
        raise BadPattern(f"a pattern is 1 to {MAX_PATTERN} characters")
    try:
        compiled = regex.compile(source, regex.IGNORECASE | regex.VERSION1)
    except regex.error as exc:
        raise BadPattern(exc.msg if hasattr(exc, "msg") else str(exc), getattr(exc, "pos", None)) from exc
    return Pattern(source, compiled)


class TimedOut(Exception):
    """A search ran out of its time: no match found, and the caller may want to know it was cut."""


def search(pattern: Pattern, text: str, timeout: float = SEARCH_TIMEOUT) -> tuple[int, int] | None:
    """The first match's span, or None; a search that runs out of time counts as no match."""
    try:
        return search_or_raise(pattern, text, timeout)
    except TimedOut:
        return None


def search_or_raise(pattern: Pattern, text: str, timeout: float = SEARCH_TIMEOUT) -> tuple[int, int] | None:
    """As `search`, but a search cut by `timeout` (at most SEARCH_TIMEOUT) raises TimedOut."""
    try:
        m = pattern.compiled.search(text[:MAX_CHARS], timeout=max(0.001, min(timeout, SEARCH_TIMEOUT)))
    except TimeoutError as exc:
        raise TimedOut from exc
    return None if m is None else m.span()
