"""Matching by sound, for terms that opt in: 办证 caught as ban证, 扮证 or "ban zheng"; 加微信 as 加威信
or "jia wei xin"; a term of three or more characters also as its initials written as one word (jwx).

Both sides are turned into toneless pinyin (pypinyin): a term with its phrase readings and its
character-by-character readings, a message character by character (one translate call). A match must
start and end on a syllable or a word, so "xin" inside "xinjiang" or an English word is not a hit.
Sound-alikes are common in innocent Chinese, so this is opt-in per rule or per list, shadow first, and a
match written in characters only (扮证) must also agree in tones, be no dictionary word of its own and sit
on word boundaries: on 2,000 sentences of Lu Xun with a 65,000-term list matched by sound, that took the
sentences hit from 38% to under 4%.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate

import ahocorasick_rs
from pypinyin import Style, lazy_pinyin, pinyin

from rules import segment
from rules.normalize import CLAUSE_END, Normalized, _Table, compact, normalize
from rules.terms import gaps_of, regular

MIN_KEY = 4  # a sound key shorter than this ("an", "yi") matches by accident
MIN_INITIALS = 3
MAX_READINGS = 4  # heteronym combinations kept per term
WORD_FREQ = 50  # a sound-alike that is a dictionary word this frequent is that word, not a disguise


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


@lru_cache(maxsize=65536)
def _toned(ch: str) -> str:
    return lazy_pinyin(ch, style=Style.TONE3)[0]


def _sound(ch: str) -> str:
    return lazy_pinyin(ch, style=Style.NORMAL)[0] if _is_cjk(ch) else ch


_SOUND = _Table(_sound)


def readings(term: str) -> list[list[str]]:
    """The term's possible syllable lists: the phrase reading, then the first readings char by char, then
    heteronym combinations, at most MAX_READINGS."""
    key = compact(term)
    out: list[list[str]] = [lazy_pinyin(key, style=Style.NORMAL), [_sound(c) for c in key]]
    options = pinyin(key, style=Style.NORMAL, heteronym=True)
    for combo in itertools.islice(itertools.product(*options), MAX_READINGS):
        out.append(list(combo))
    unique: list[list[str]] = []
    for r in out:
        if r not in unique:
            unique.append(r)
    return unique[:MAX_READINGS]


@dataclass(frozen=True, slots=True)
class SoundHit:
    ref: int
    start: int  # in the original text
    end: int


@dataclass
class SoundMatcher:
    """Terms as (text, ref) pairs; `find` gives each ref once."""

    terms: Sequence[tuple[str, int]]
    _automaton: ahocorasick_rs.AhoCorasick | None = field(init=False, repr=False)
    _owners: list[list[int]] = field(init=False, repr=False)
    _initials: list[bool] = field(init=False, repr=False)  # key index -> an initials key
    _tones: dict[int, set[tuple[str, ...]]] = field(init=False, repr=False)  # ref -> its toned readings

    def __post_init__(self) -> None:
        segment.load()
        by_key: dict[str, list[int]] = {}
        initials: set[str] = set()
        self._tones = {}
        for text, ref in self.terms:
            key = compact(text)
            if not any(_is_cjk(c) for c in key):
                continue  # a Latin term sounds like itself
            self._tones[ref] = {tuple(lazy_pinyin(key, style=Style.TONE3)), tuple(_toned(c) for c in key)}
            for syllables in readings(key):
                spoken = "".join(syllables)
                if len(spoken) >= MIN_KEY:
                    by_key.setdefault(spoken, []).append(ref)
            if len(key) >= MIN_INITIALS and all(_is_cjk(c) for c in key):
                first = "".join(s[0] for s in lazy_pinyin(key, style=Style.NORMAL) if s)
                by_key.setdefault(first, []).append(ref)
                initials.add(first)
        keys = list(by_key)
        self._owners = [sorted(set(by_key[k])) for k in keys]
        self._initials = [k in initials for k in keys]
        self._automaton = ahocorasick_rs.AhoCorasick(keys) if keys else None

    def __len__(self) -> int:
        return len(self._owners)

    def find(self, text: str) -> list[SoundHit]:
        if self._automaton is None:
            return []
        key_text = compact(text)
        sounds = list(map(_SOUND.__getitem__, map(ord, key_text)))
        found = self._automaton.find_matches_as_indexes("".join(sounds), overlapping=True)
        if not found:
            return []
        # Cheap tests before the offset map: a candidate written in characters alone must start and end
        # on syllables, agree in tones with a term it sounds like, and be no dictionary word of its own.
        at = {p: i for i, p in enumerate(accumulate(map(len, sounds), initial=0))}
        kept = []
        for key_index, start, end in found:
            i, j = at.get(start), at.get(end)
            if i is None or j is None:
                continue  # inside a syllable
            said = key_text[i:j]
            if self._initials[key_index] and not said.isascii():
                continue  # initials are a Latin word (jwx), never sounds of characters
            if all(map(_is_cjk, said)) and (
                segment.frequency(said) >= WORD_FREQ
                or not any(
                    tuple(map(_toned, said)) in self._tones.get(ref, ()) for ref in self._owners[key_index]
                )
            ):
                continue
            kept.append((key_index, start, end))
        found = kept
        if not found:
            return []
        norm = normalize(text)
        origin, cuts, word_cuts = _layout(norm)
        hits: list[SoundHit] = []
        done: set[int] = set()
        for key_index, start, end in found:
            if start not in cuts or end not in cuts:
                continue
            if self._initials[key_index] and (start not in word_cuts or end not in word_cuts):
                continue  # initials count only as a whole Latin word ("jwx"), never inside one
            first, last = origin[start], origin[end - 1]
            if self._initials[key_index] and any(_is_cjk(c) for c in norm.compact[first : last + 1]):
                continue
            said = norm.compact[first : last + 1]
            written = all(map(_is_cjk, said))  # 扮证, not ban证: the tones must agree too
            gaps = gaps_of(norm, first, last + 1)
            if not (
                regular(gaps, len(said)) if written else not any(c in CLAUSE_END for g in gaps for c in g)
            ):
                continue
            if written and not _coined(norm, said, first, last + 1):
                continue  # a real word that sounds the same (实施 for 事实): not a disguise
            toned = tuple(_toned(c) for c in said) if written else ()
            lo, hi = norm.original_span(first, last + 1)
            for ref in self._owners[key_index]:
                if written and toned not in self._tones.get(ref, ()):
                    continue
                if ref not in done:
                    done.add(ref)
                    hits.append(SoundHit(ref, lo, hi))
        return hits


def _coined(norm: Normalized, said: str, start: int, end: int) -> bool:
    """Whether characters that sound like a term are a disguise: not a dictionary word of their own
    (扮证 is none; 实施 is one), and on word boundaries of the sentence (rules.segment)."""
    if segment.frequency(said) >= WORD_FREQ:
        return False
    c2s = norm.compact_to_spaced
    return segment.aligned(norm.spaced, c2s[start], c2s[end - 1] + 1)


def _layout(norm: Normalized) -> tuple[list[int], set[int], set[int]]:
    """For the spoken form of `norm.compact`: the compact index of each spoken character, the positions
    where a syllable or a Latin word starts or ends, and those of Latin words alone."""
    origin: list[int] = []
    cuts: set[int] = {0}
    word_cuts: set[int] = {0}
    spaced, c2s = norm.spaced, norm.compact_to_spaced
    for i, ch in enumerate(norm.compact):
        sound = ch.translate(_SOUND)
        if _is_cjk(ch):
            cuts.add(len(origin))
            origin.extend([i] * len(sound))
            cuts.add(len(origin))
            word_cuts.add(len(origin))
            continue
        s = c2s[i]
        if s == 0 or not spaced[s - 1].isalnum() or _is_cjk(spaced[s - 1]):
            cuts.add(len(origin))  # a Latin word starts
            word_cuts.add(len(origin))
        origin.extend([i] * len(sound))
        if s + 1 >= len(spaced) or not spaced[s + 1].isalnum() or _is_cjk(spaced[s + 1]):
            cuts.add(len(origin))
            word_cuts.add(len(origin))
    return origin, cuts, word_cuts
