"""Text normalisation for matching, the same for terms and messages, with a map back to the original.

NFKC and case folding (full-width → half-width), zero-width/format characters and variation selectors
dropped, traditional → simplified Chinese (OpenCC), Latin look-alikes from Cyrillic and Greek folded to
Latin, and right-to-left overrides undone (a term typed backwards inside U+202E reads forwards again).

Only letters and digits count. Every other code point is a separator, of one of two sorts:
- *ordinary* separators (white space, clause and sentence punctuation, brackets, quotes) end a word:
  a match across them must be regular ("加 微 信"); in `spaced` a run of white space is one space and
  punctuation stays as it is;
- the rest (- . / and every symbol, emoji, Hangul and braille filler, the strokes 丶丨 and the like)
  stays in `spaced` as it is: it joins or pads a word (w-e-c-h-a-t, 办@证, 卖🉐发票) rather than ends it.
Both are removed in `compact`, the view the matchers scan. Pure: no I/O.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import opencc

MAX_CHARS = 4096  # longer messages are matched on their first 4,096 characters

_T2S = opencc.OpenCC("t2s")
HOMOGLYPHS = str.maketrans(
    {
        # Cyrillic
        "а": "a",
        "в": "b",
        "е": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "і": "i",
        "ј": "j",
        "ѕ": "s",
        "ԁ": "d",
        "ӏ": "l",
        "ɡ": "g",
        "ү": "y",
        # Greek
        "α": "a",
        "β": "b",
        "ε": "e",
        "η": "n",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
        "ω": "w",
    }
)
# Separators that end a word or a clause. Others (- . / ~ and all symbols) join or pad the parts of one
# word more often than they end it.
ORDINARY = frozenset(" \t\r\n,;!?()[]{}<>'\"，。、；：！？（）【】《》「」『』“”‘’…—")
# Code points that are letters to Unicode but only ever pad or split a word: Hangul fillers, the
# single strokes 丶丨丿乀乁乚亅 used as dividers (金丶皇丨国).
FILLERS = frozenset("\u3164\uffa0\u115f\u1160\u17b4\u17b5\u2800丶丨丿乀乁乚亅")
# Right-to-left overrides and isolates: the text between one and its end is shown reversed.
BIDI_PUSH = frozenset("\u202e\u202b\u2067")
BIDI_POP = frozenset("\u202c\u2069\n")


def is_kept(c: str) -> bool:
    """A letter or digit: what the compact view keeps."""
    return (c.isalnum() or unicodedata.category(c) == "Mc") and c not in FILLERS


# Punctuation that ends a clause or a sentence: a short term is never read across it (上，你 is not 上你).
CLAUSE_END = frozenset(",;!?:，。、；：！？…")


def is_ordinary(c: str) -> bool:
    return c in ORDINARY or c.isspace()


def _is_format(ch: str) -> bool:
    return (
        unicodedata.category(ch) == "Cf" or "\ufe00" <= ch <= "\ufe0f" or "\U000e0100" <= ch <= "\U000e01ef"
    )


@lru_cache(maxsize=65536)
def fold(ch: str) -> str:
    """One original character to its normalised form ("" to drop it)."""
    if _is_format(ch) or "\ud800" <= ch <= "\udfff":
        return ""  # a lone surrogate cannot be encoded, and a matcher given one raises: drop it
    if "\U0001f200" <= ch <= "\U0001f2ff":
        return ch  # 🉐 🈲: emoji that NFKC would turn into an ideograph (得, 禁); noise between characters
    if unicodedata.category(ch) in ("Mn", "Me"):
        return ""  # combining marks ("s̸e̸x̸", zalgo) carry nothing a matcher needs
    out = unicodedata.normalize("NFKC", ch).casefold()
    if any("\u00c0" <= c < "\u0530" for c in out):  # accented Latin, Greek, Cyrillic: é → e, ё → е
        base = unicodedata.normalize("NFKD", out)
        out = "".join(c for c in base if unicodedata.category(c) not in ("Mn", "Me"))
    if any("\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff" for c in out):
        out = _T2S.convert(out)
    return out.translate(HOMOGLYPHS)


@dataclass(frozen=True, slots=True)
class Normalized:
    spaced: str  # separators collapsed to one space
    spaced_origin: tuple[int, ...]  # spaced[i] came from original[spaced_origin[i]]
    compact: str  # separators removed
    compact_to_spaced: tuple[int, ...]  # compact[i] is spaced[compact_to_spaced[i]]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Compact [start, end) to the original text's [start, end)."""
        a = self.spaced_origin[self.compact_to_spaced[start]]
        b = self.spaced_origin[self.compact_to_spaced[end - 1]]
        return min(a, b), max(a, b) + 1  # reversed when the text was shown right to left


def visual(text: str) -> tuple[str, list[int] | None]:
    """The text in the order it is shown: runs after a right-to-left override reversed, with the origin
    of each character (None when the text has no override, the common case, at the cost of three scans)."""
    if not has_bidi(text):
        return text, None
    out: list[str] = []
    origin: list[int] = []
    run: list[int] = []
    for i, ch in enumerate(text):
        if run:
            if ch in BIDI_POP or ch in BIDI_PUSH:
                for j in reversed(run[1:]):
                    out.append(text[j])
                    origin.append(j)
                run = [i] if ch in BIDI_PUSH else []
                if ch == "\n":
                    out.append(ch)
                    origin.append(i)
                continue
            run.append(i)
        elif ch in BIDI_PUSH:
            run = [i]
        else:
            out.append(ch)
            origin.append(i)
    for j in reversed(run[1:]):
        out.append(text[j])
        origin.append(j)
    return "".join(out), origin


def has_bidi(text: str) -> bool:
    return any(p in text for p in BIDI_PUSH)


def normalize(text: str, *, shown_order: bool = True) -> Normalized:
    """The views of a text; `shown_order=False` keeps the typed order where an override reverses it
    (a matcher tries both: the reader sees one, a careless client may show the other)."""
    shown, order = visual(text[:MAX_CHARS]) if shown_order else (text[:MAX_CHARS], None)
    spaced: list[str] = []
    origin: list[int] = []
    kept: list[int] = []
    parts = _PARTS
    for k, ch in enumerate(shown):
        for c, kind in parts[ord(ch)]:
            if kind == _SPACE:
                if not spaced or spaced[-1] == " ":
                    continue
                c = " "
            elif kind == _KEPT:
                kept.append(len(spaced))
            spaced.append(c)  # noise and punctuation stay, so a regex or a gap check can see them
            origin.append(k if order is None else order[k])
    return Normalized("".join(spaced), tuple(origin), "".join(spaced[i] for i in kept), tuple(kept))


class _Table(dict[int, str]):
    """A `str.translate` table filled on first sight of each character, so the hot path is one C call.

    Bounded: past `_TABLE_MAX` distinct characters new ones are computed but not kept (a flood of rare
    code points cannot grow memory without end).
    """

    def __init__(self, convert: Callable[[str], str]) -> None:
        super().__init__()
        self._convert = convert

    def __missing__(self, code: int) -> str:
        out = self._convert(chr(code))
        if len(self) < _TABLE_MAX:
            self[code] = out
        return out


_TABLE_MAX = 200_000
_FOLD = _Table(fold)
_KEPT, _SPACE, _OTHER = 0, 1, 2


def _parts(ch: str) -> tuple[tuple[str, int], ...]:
    return tuple((c, _KEPT if is_kept(c) else _SPACE if c.isspace() else _OTHER) for c in fold(ch))


class _PartsTable(dict[int, tuple[tuple[str, int], ...]]):
    """Code point → its folded characters with their sort (kept, white space, other), filled on first
    sight and bounded like `_Table`: `normalize` is one dictionary look-up per character."""

    def __missing__(self, code: int) -> tuple[tuple[str, int], ...]:
        out = _parts(chr(code))
        if len(self) < _TABLE_MAX:
            self[code] = out
        return out


_PARTS = _PartsTable()
_COMPACT = _Table(lambda ch: "".join(c for c in fold(ch) if is_kept(c)))


def folded(text: str) -> str:
    """`fold_text` without the offsets: the detectors' fast path (offsets are computed only on a match)."""
    return text[:MAX_CHARS].translate(_FOLD)


def compact(text: str, *, shown_order: bool = True) -> str:
    """`normalize(text).compact` in one C-level pass: what the matchers scan before anything else."""
    shown = visual(text[:MAX_CHARS])[0] if shown_order else text[:MAX_CHARS]
    return shown.translate(_COMPACT)


def fold_text(text: str) -> tuple[str, tuple[int, ...]]:
    """Characters folded (width, case, script, look-alikes) but separators kept; with origin offsets."""
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text[:MAX_CHARS]):
        for c in fold(ch):
            out.append(c)
            origin.append(i)
    return "".join(out), tuple(origin)


def normalize_term(term: str) -> str:
    """A term as the matcher stores it: compact, as messages are."""
    return compact(term)
