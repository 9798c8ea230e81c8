"""Literal term matching with Aho-Corasick (ahocorasick-rs) over normalised text.

Terms match in the compact view (letters and digits only), then a hit must pass the checks that tell a
word from a coincidence of characters:
- Latin terms match whole words ("sex" does not hit "Essex"), or a word spelled out (c.a.s.i.n.o);
- a mixed term's Latin edge may not continue a Latin word (g产 is not in "yíng)-產");
- the separators inside a hit must be regular: none, one between every pair of characters
  (加 微 信), or noise alone (办@证, 卖🉐发票); a hit that runs over one comma but not the rest is two
  words that happen to meet;
- a short Chinese hit (2 characters, `segment_max`) must start and end on word boundaries of a Chinese
  word segmentation (rules.segment), so 法论 in 方法论 or 下流 across 线下流量 is not a hit;
- a hit inside a word of the allow-list (方法论) or of one of the term's exceptions does not count.
Terms with digits next to Chinese also match with Chinese numerals (1夜情 as 一夜情) and back.

The hot path is two C calls: `compact()` (one `str.translate`) and the automaton scan. Only a message
that hits something pays for the offset map (`normalize`) and the checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ahocorasick_rs

from rules import segment
from rules.normalize import CLAUSE_END, Normalized, compact, has_bidi, is_ordinary, normalize, normalize_term

MAX_HITS = 16  # distinct terms reported per message at most
MAX_SEGMENTED = 48  # short Chinese hits checked against a segmentation per message (≈15 µs each)
PREFIX = 256  # characters normalised first for the checks; more only when hits reach further
MARGIN = 64  # compact characters past a hit its checks may read (exceptions and allowed words ≤ 40)
CONTEXT = segment.WINDOW + 1  # characters either side that every check of a hit looks at, at most


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


def gaps_of(norm: Normalized, start: int, end: int) -> list[str]:
    """The separators between consecutive characters of compact [start, end), as written."""
    c2s, spaced = norm.compact_to_spaced, norm.spaced
    return [spaced[c2s[k] + 1 : c2s[k + 1]] for k in range(start, end - 1)]


def regular(gaps: list[str], size: int) -> bool:
    """Whether separators inside a Chinese or mixed hit are a disguise rather than two words meeting:
    none, one between every pair (加 微 信), or padding alone (办@证); never across the end of a clause
    (上，你), unless spelled out with three or more characters (加，微，信)."""
    if any(gaps) and not all(gaps) and any(map(_ends_word, gaps)):
        return False  # separators here and not there: two words that happen to meet
    return not (any(c in CLAUSE_END for g in gaps for c in g) and (size < 3 or not all(gaps)))


def _ends_word(gap: str) -> bool:
    return any(map(is_ordinary, gap))


def _cjk(c: str) -> bool:
    return "\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff"


_DIGITS = "0123456789"
_NUMERALS = "零一二三四五六七八九"


def variants(key: str) -> list[str]:
    """Other spellings of a compact key of 3 or more characters: digits next to Chinese as Chinese numerals
    (1夜情 → 一夜情), and Chinese numerals in a term with other Chinese as digits (一夜情 → 1夜情)."""
    out: list[str] = []
    if len(key) < 3:
        return out  # 1夜 as 一夜 would hit every "one night"
    if any(c in _DIGITS for c in key) and any(_cjk(c) for c in key):
        out.append(key.translate(str.maketrans(_DIGITS, _NUMERALS)))
    if any(c in _NUMERALS for c in key) and any(_cjk(c) and c not in _NUMERALS for c in key):
        out.append(key.translate(str.maketrans(_NUMERALS, _DIGITS)))
    return [v for v in out if v != key]


@dataclass
class TermMatcher:
    """Built once per list (rebuilt when an admin changes it); `find` is pure and fast."""

    terms: list[Term]
    allow: tuple[str, ...] = ()  # words a hit inside of does not count (方法论 for 法论)
    segment_max: int = 2  # Chinese hits this short must align with word boundaries; 0 = never check
    _automaton: ahocorasick_rs.AhoCorasick | None = field(init=False, repr=False)
    _keys: list[str] = field(init=False, repr=False)
    _owners: list[list[int]] = field(init=False, repr=False)  # key index -> term indexes
    _words: list[list[str]] = field(init=False, repr=False)  # key index -> the term's own words
    _exceptions: list[tuple[str, ...]] = field(init=False, repr=False)  # term index -> compact exceptions
    _allow: ahocorasick_rs.AhoCorasick | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_key: dict[str, list[int]] = {}
        words: dict[str, list[str]] = {}
        self._exceptions = []
        for index, term in enumerate(self.terms):
            self._exceptions.append(tuple(e for e in map(normalize_term, term.exceptions) if e))
            key = normalize_term(term.text)
            if key:
                for spelling in (key, *variants(key)):
                    by_key.setdefault(spelling, []).append(index)
                if _latin(key) and key not in words:  # word boundaries matter for Latin terms only
                    words[key] = "".join(
                        c if c.isalnum() else " " for c in normalize(term.text).spaced
                    ).split()
        allow = sorted({a for a in map(normalize_term, self.allow) if len(a) > 1} - set(by_key))
        self._allow = ahocorasick_rs.AhoCorasick(allow) if allow else None
        if self.segment_max and any(len(k) <= self.segment_max and all(map(_cjk, k)) for k in by_key):
            segment.load()  # here, where the matcher is built (off the event loop), not on a message
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
        """Each term the text holds, once; read in the order shown and, where a right-to-left override
        reorders it, in the order typed too."""
        if not has_bidi(text):
            return self._find(text, False)
        hits = self._find(text, True)
        if len(hits) < MAX_HITS:
            seen = {id(h.term) for h in hits}
            hits += [h for h in self._find(text, False) if id(h.term) not in seen][: MAX_HITS - len(hits)]
        return hits

    def _find(self, text: str, shown_order: bool) -> list[Hit]:
        if self._automaton is None:
            return []
        found = self._automaton.find_matches_as_indexes(
            compact(text, shown_order=shown_order), overlapping=True
        )
        if not found:
            return []
        # A prefix of the text is enough while the hits are near its start (a wall of terms decides
        # within its first lines): normalise more only when a hit comes near the end of what is done.
        # (Without a reordering override, the prefix's compact view is a prefix of the whole one.)
        size = len(text) if shown_order else min(len(text), PREFIX)
        norm = normalize(text[:size], shown_order=shown_order)
        covered: list[int] | None = None
        hits: list[Hit] = []
        done: set[int] = set()  # terms already found: the decision needs each rule once, not every hit
        budget = [MAX_SEGMENTED]
        decided: dict[tuple[int, str], bool] = {}  # a wall repeats its contexts: decide each once
        spaced, c2s = norm.spaced, norm.compact_to_spaced
        finished: set[int] = set()  # keys whose terms are all found
        for key_index, start, end in found:
            if key_index in finished:
                continue
            while size < len(text) and end + MARGIN > len(norm.compact):
                size = min(len(text), size * 4)
                norm = normalize(text[:size], shown_order=False)
                spaced, c2s, covered = norm.spaced, norm.compact_to_spaced, None
            lo = c2s[start] - CONTEXT
            context = spaced[lo if lo > 0 else 0 : c2s[end - 1] + 1 + CONTEXT]
            verdict = decided.get((key_index, context))
            if verdict is False:
                continue
            owners = [
                i
                for i in self._owners[key_index]
                if i not in done and not (self._exceptions[i] and self._excepted(norm.compact, i, start, end))
            ]
            if not owners:
                if all(i in done for i in self._owners[key_index]):
                    finished.add(key_index)
                continue
            if verdict is None:
                verdict = self._accept(
                    norm, self._keys[key_index], self._words[key_index], start, end, budget
                )
                decided[(key_index, context)] = verdict
                if not verdict:
                    continue
            if self._allow is not None:
                if covered is None:
                    covered = self._covered(norm.compact)
                if covered[start] >= end:
                    continue  # inside a word the group allows
            first, last = norm.original_span(start, end)
            for index in owners:
                hits.append(Hit(self.terms[index], first, last, text[first:last]))
                done.add(index)
            if len(hits) >= MAX_HITS:
                break  # a wall of list terms: enough to decide, and bounded work
        return hits

    def _covered(self, compact_text: str) -> list[int]:
        """For each position, how far the allowed words that start at or before it reach (linear)."""
        reach = [0] * (len(compact_text) + 1)
        assert self._allow is not None
        for _, s, e in self._allow.find_matches_as_indexes(compact_text, overlapping=True):
            reach[s] = max(reach[s], e)
        for i in range(1, len(reach)):
            reach[i] = max(reach[i], reach[i - 1])
        return reach

    def _accept(
        self, norm: Normalized, key: str, words: list[str], start: int, end: int, budget: list[int]
    ) -> bool:
        c2s, spaced = norm.compact_to_spaced, norm.spaced
        s, e = c2s[start], c2s[end - 1] + 1
        gaps = gaps_of(norm, start, end)
        if _latin(key):
            if (s > 0 and _alnum(spaced[s - 1])) or (e < len(spaced) and _alnum(spaced[e])):
                return False  # inside a longer word
            if not any(gaps) or all(gaps) or not any(map(_ends_word, gaps)):
                return True  # a whole word, c.a.s.i.n.o, or padded with symbols (cas😀ino)
            span = "".join(c if c.isalnum() or c == " " else "" for c in spaced[s:e])
            return span.split() == words  # its own words, as the term has them (symbols ignored)
        if _alnum(key[0]) and s > 0 and _alnum(spaced[s - 1]):
            return False  # the Latin edge of a mixed term continues a word
        if _alnum(key[-1]) and e < len(spaced) and _alnum(spaced[e]):
            return False
        if not regular(gaps, len(key)):
            return False
        if len(key) <= self.segment_max and all(map(_cjk, key)):
            if budget[0] <= 0:
                return False  # a wall of short hits inside words: bounded work, and none of them counted
            budget[0] -= 1
            return segment.aligned(spaced, s, e)
        return True

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
