"""How spammers disguise a term, as functions of the term: the evasion corpus of tests/test_corpus.py and
of bench/lexicon.py (which applies them to 200 terms of a real downloaded lexicon).

`CHARACTER` disguises need nothing but normalisation; `SOUND` ones (pinyin, homophones, initials) are
caught only for terms that opt in to matching by sound (/filter pinyin)."""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache

import opencc
from pypinyin import Style, lazy_pinyin
from pypinyin.pinyin_dict import pinyin_dict

_S2T = opencc.OpenCC("s2t")
_LOOKALIKE = str.maketrans({"a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "x": "х", "i": "і"})
SYMBOLS = "@#$%^&*丨丶♡★〓~+=|/\\"
EMOJI = "🉐🈲😀🔥💰🎁👉✨❤️⭐"
FILLERS = "\u3164\uffa0\u115f\u2800"


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _between(pool: str) -> Callable[[str], str]:
    """A different character of `pool` between each pair of characters (the seed is the term)."""

    def evade(term: str) -> str:
        rng = random.Random(term)
        out = term[0]
        for c in term[1:]:
            out += rng.choice(pool) + c
        return out

    return evade


def _one_inserted(pool: str) -> Callable[[str], str]:
    def evade(term: str) -> str:
        if len(term) < 2:
            return term
        rng = random.Random(term)
        at = rng.randrange(1, len(term))
        return term[:at] + rng.choice(pool) + term[at:]

    return evade


CHARACTER: dict[str, Callable[[str], str]] = {
    "plain": lambda t: t,
    "spaced": lambda t: " ".join(t),
    "dashed": lambda t: "-".join(t),
    "dotted": lambda t: ".".join(t),
    "zero-width": lambda t: "\u200b".join(t),
    "zero-width-joiner": lambda t: "\u200d".join(t),
    "full-width": _fullwidth,
    "traditional": lambda t: _S2T.convert(t),
    "upper": lambda t: t.upper(),
    "look-alikes": lambda t: t.translate(_LOOKALIKE),
    "combining": lambda t: "".join(c + "\u0336" for c in t),
    "bidi": lambda t: "\u202e" + t + "\u202c",
    "stars": lambda t: "*".join(t),
    "symbols between": _between(SYMBOLS),
    "symbol walls": lambda t: "#&%^@$丨丶♡★".join(t),
    "strokes": _between("丶丨"),
    "emoji between": _between(EMOJI),
    "one emoji inserted": _one_inserted(EMOJI),
    "hangul fillers": _between(FILLERS),
    "braille blank": lambda t: "\u2800".join(t),
    "reversed under RTL override": lambda t: "\u202e" + t[::-1] + "\u202c",
}


def _cjk(c: str) -> bool:
    return "\u4e00" <= c <= "\u9fff"


@cache
def _by_sound() -> dict[str, list[str]]:
    """Pinyin with its tone → everyday simplified characters with that reading (their first reading;
    jieba's frequency as a character of its own ≥ 1,000): what a spammer's input method offers for the
    syllable (扮 for 办, 泉 for 全, 威 for 微). Other tones are not generated: they are not caught."""
    import jieba

    jieba.initialize()
    _T2S = opencc.OpenCC("t2s")
    out: dict[str, list[str]] = {}
    for code in pinyin_dict:
        ch = chr(code)
        if not _cjk(ch) or code > 0x9FA5 or _T2S.convert(ch) != ch or jieba.dt.FREQ.get(ch, 0) < 1000:
            continue
        sound = lazy_pinyin(ch, style=Style.TONE3)[0]
        out.setdefault(sound, []).append(ch)
    return out


def _one_in_pinyin(term: str) -> str:
    """One character (the last) written in pinyin: 办证 → 办zheng, 娱乐城 → 娱乐cheng."""
    sounds = lazy_pinyin(term, style=Style.NORMAL)
    return term[:-1] + sounds[-1] if _cjk(term[-1]) else term


def _first_in_pinyin(term: str) -> str:
    """The first character in pinyin: 办证 → ban证."""
    sounds = lazy_pinyin(term, style=Style.NORMAL)
    return sounds[0] + term[1:] if _cjk(term[0]) else term


def _homophone(term: str) -> str:
    """One character swapped for another with the same reading: 办证 → 扮证, 全套 → 泉套."""
    rng = random.Random(term)
    sounds = [lazy_pinyin(c, style=Style.TONE3)[0] for c in term]
    spots = [i for i, c in enumerate(term) if _cjk(c)]
    rng.shuffle(spots)
    for i in spots:
        others = [c for c in _by_sound().get(sounds[i], []) if c != term[i]]
        if others:
            return term[:i] + rng.choice(sorted(others)) + term[i + 1 :]
    return term


SOUND: dict[str, Callable[[str], str]] = {
    "first character in pinyin": _first_in_pinyin,
    "last character in pinyin": _one_in_pinyin,
    "spelled in pinyin": lambda t: " ".join(lazy_pinyin(t, style=Style.NORMAL)),
    "homophone": _homophone,
    "initials": lambda t: "".join(s[0] for s in lazy_pinyin(t, style=Style.NORMAL)),
}


def applies(name: str, term: str) -> bool:
    """Whether an evasion means anything for a term (initials only for 3+ Chinese characters; Latin
    terms are not spelled in pinyin; dotting a Chinese term is the dashed case again)."""
    chinese = all(_cjk(c) for c in term)
    if name in SOUND:
        return chinese and (name != "initials" or len(term) >= 3)
    if name == "dotted":
        return term.isascii()
    return True
