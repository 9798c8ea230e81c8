"""Literal term matching with Aho-Corasick over normalised text.

CJK terms match as substrings of the compact text ("加 微 信" hits 加微信). Latin terms match whole
words ("sex" does not hit "Essex" or "is exactly"), or a word spelled out with separators ("c.a.s.i.n.o").
Each term may carry exceptions: a match inside a longer exception ("刷单" inside "刷单词") does not count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ahocorasick

from rules.normalize import Normalized, normalize, normalize_term


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    category: str = ""
    exceptions: tuple[str, ...] = ()


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
    _automaton: ahocorasick.Automaton = field(init=False, repr=False)
    _exceptions: list[list[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._automaton = ahocorasick.Automaton()
        self._exceptions = []
        for index, term in enumerate(self.terms):
            key = normalize_term(term.text)
            if not key:
                continue
            existing = self._automaton.get(key, None)
            self._automaton.add_word(key, (existing or ()) + ((index, key),))
            self._exceptions.append([normalize_term(e) for e in term.exceptions])
        while len(self._exceptions) < len(self.terms):
            self._exceptions.append([])
        if len(self._automaton):
            self._automaton.make_automaton()

    def find(self, text: str) -> list[Hit]:
        if not len(self._automaton):
            return []
        norm = normalize(text)
        hits: list[Hit] = []
        for end, entries in self._automaton.iter(norm.compact):
            for index, key in entries:
                start = end - len(key) + 1
                if self._accept(norm, key, start, end + 1) and not self._excepted(
                    norm, index, start, end + 1
                ):
                    first, last = norm.original_span(start, end + 1)
                    hits.append(Hit(self.terms[index], first, last, text[first:last]))
        return hits

    @staticmethod
    def _accept(norm: Normalized, key: str, start: int, end: int) -> bool:
        if not _latin(key):
            return True
        s, e = norm.compact_to_spaced[start], norm.compact_to_spaced[end - 1] + 1
        spaced = norm.spaced
        if (s > 0 and _alnum(spaced[s - 1])) or (e < len(spaced) and _alnum(spaced[e])):
            return False  # inside a longer word
        span = spaced[s:e]
        if " " not in span:
            return True  # a whole word
        return all(len(part) == 1 for part in span.split(" "))  # spelled out: c.a.s.i.n.o

    def _excepted(self, norm: Normalized, index: int, start: int, end: int) -> bool:
        compact = norm.compact
        for exception in self._exceptions[index]:
            pos = compact.find(exception, max(0, end - len(exception)))
            while 0 <= pos <= start:
                if pos + len(exception) >= end:
                    return True
                pos = compact.find(exception, pos + 1)
        return False
