"""Literal term matching with Aho-Corasick (ahocorasick-rs) over normalised text.

CJK terms match as substrings of the compact text ("加 微 信" hits 加微信). Latin terms match whole
words ("sex" does not hit "Essex" or "is exactly"), or a word spelled out with separators ("c.a.s.i.n.o").
Each term may carry exceptions: a match inside a longer exception ("刷单" inside "刷单词") does not count.

The hot path is two C calls: `compact()` (one `str.translate`) and the automaton scan. Only a message
that hits something pays for the offset map (`normalize`) that checks word boundaries and exceptions and
points back at the original characters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ahocorasick_rs

from rules.normalize import Normalized, compact, normalize, normalize_term

MAX_HITS = 16  # distinct terms reported per message at most


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    category: str = ""
    exceptions: tuple[str, ...] = ()
    ref: int = 0  # the caller's id for the term (a rule id), carried into hits


@dataclass(frozen=True, slots=True)
class Hit:
    term: Term
    start: int  # in the original text
    end: int
    excerpt: str  # the original characters that matched


def _latin(word: str) -> bool:
    return word.isascii() and any(c.isalnum() for c in word)


def _alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


@dataclass
class TermMatcher:
    """Built once per list (rebuilt when an admin changes it); `find` is pure and fast."""

    terms: list[Term]
    _automaton: ahocorasick_rs.AhoCorasick | None = field(init=False, repr=False)
    _keys: list[str] = field(init=False, repr=False)
    _owners: list[list[int]] = field(init=False, repr=False)  # key index -> term indexes
    _words: list[list[str]] = field(init=False, repr=False)  # key index -> the term's own words
    _exceptions: list[tuple[str, ...]] = field(init=False, repr=False)  # term index -> compact exceptions

    def __post_init__(self) -> None:
        by_key: dict[str, list[int]] = {}
        words: dict[str, list[str]] = {}
        self._exceptions = []
        for index, term in enumerate(self.terms):
            self._exceptions.append(tuple(e for e in map(normalize_term, term.exceptions) if e))
            key = normalize_term(term.text)
            if key:
                by_key.setdefault(key, []).append(index)
                if _latin(key) and key not in words:  # word boundaries matter for Latin terms only
                    words[key] = normalize(term.text).spaced.split()
        self._keys = list(by_key)
        self._owners = list(by_key.values())
        self._words = [words.get(k, []) for k in self._keys]
        self._automaton = (
            ahocorasick_rs.AhoCorasick(self._keys, matchkind=ahocorasick_rs.MatchKind.Standard)
            if self._keys
            else None
        )

    def __len__(self) -> int:
        return len(self._keys)

    def find(self, text: str) -> list[Hit]:
        if self._automaton is None:
            return []
        found = self._automaton.find_matches_as_indexes(compact(text), overlapping=True)
        if not found:
            return []
        norm = normalize(text)
        hits: list[Hit] = []
        done: set[int] = set()  # terms already found: the decision needs each rule once, not every hit
        for key_index, start, end in found:
            owners = [i for i in self._owners[key_index] if i not in done]
            if not owners:
                continue
            key = self._keys[key_index]
            if not self._accept(norm, key, self._words[key_index], start, end):
                continue
            for index in owners:
                if not self._excepted(norm.compact, index, start, end):
                    first, last = norm.original_span(start, end)
                    hits.append(Hit(self.terms[index], first, last, text[first:last]))
                    done.add(index)
            if len(hits) >= MAX_HITS:
                break  # a wall of list terms: enough to decide, and bounded work
        return hits

    @staticmethod
    def _accept(norm: Normalized, key: str, words: list[str], start: int, end: int) -> bool:
        if not _latin(key):
            return True
        s, e = norm.compact_to_spaced[start], norm.compact_to_spaced[end - 1] + 1
        spaced = norm.spaced
        if (s > 0 and _alnum(spaced[s - 1])) or (e < len(spaced) and _alnum(spaced[e])):
            return False  # inside a longer word
        span = spaced[s:e]
        if " " not in span:
            return True  # a whole word
        parts = span.split(" ")
        return parts == words or all(len(part) == 1 for part in parts)  # its own words, or c.a.s.i.n.o

    def _excepted(self, compact_text: str, index: int, start: int, end: int) -> bool:
        """Whether an exception of the term covers [start, end). The search is bounded to the window an
        exception could cover, so a wall of hits costs linear time, not a scan to the end per hit."""
        for exception in self._exceptions[index]:
            size = len(exception)
            lo, hi = max(0, end - size), start + size
            pos = compact_text.find(exception, lo, hi)
            while pos != -1:
                if pos + size >= end:
                    return True
                pos = compact_text.find(exception, pos + 1, hi)
        return False
