"""Text normalisation for matching, the same for terms and messages, with a map back to the original.

NFKC and case folding (full-width → half-width), zero-width/format characters and variation selectors
dropped, traditional → simplified Chinese (OpenCC), Latin look-alikes from Cyrillic and Greek folded to
Latin, and runs of separators ("加 微 信", "c.a.s.i.n.o", "w-e-c-h-a-t") collapsed to one space in
`spaced` and removed in `compact`. Pure: no I/O.
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
SEPARATORS = frozenset(" \t\r\n.,_-*|/\\·•・~`'\"+=:;!?()[]{}<>，。、；：！？（）【】《》「」『』“”‘’…—～")


def _is_format(ch: str) -> bool:
    return (
        unicodedata.category(ch) == "Cf" or "\ufe00" <= ch <= "\ufe0f" or "\U000e0100" <= ch <= "\U000e01ef"
    )


@lru_cache(maxsize=65536)
def fold(ch: str) -> str:
    """One original character to its normalised form ("" to drop it)."""
    if _is_format(ch) or "\ud800" <= ch <= "\udfff":
        return ""  # a lone surrogate cannot be encoded, and a matcher given one raises: drop it
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
        first = self.spaced_origin[self.compact_to_spaced[start]]
        last = self.spaced_origin[self.compact_to_spaced[end - 1]]
        return first, last + 1


def normalize(text: str) -> Normalized:
    spaced: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text[:MAX_CHARS]):
        for c in fold(ch):
            if c in SEPARATORS or c.isspace():
                if spaced and spaced[-1] != " ":
                    spaced.append(" ")
                    origin.append(i)
            else:
                spaced.append(c)
                origin.append(i)
    compact_to_spaced = tuple(i for i, c in enumerate(spaced) if c != " ")
    return Normalized(
        "".join(spaced), tuple(origin), "".join(spaced[i] for i in compact_to_spaced), compact_to_spaced
    )


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
_COMPACT = _Table(lambda ch: "".join(c for c in fold(ch) if not (c in SEPARATORS or c.isspace())))


def folded(text: str) -> str:
    """`fold_text` without the offsets: the detectors' fast path (offsets are computed only on a match)."""
    return text[:MAX_CHARS].translate(_FOLD)


def compact(text: str) -> str:
    """`normalize(text).compact` in one C-level pass: what the matchers scan before anything else."""
    return text[:MAX_CHARS].translate(_COMPACT)


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
