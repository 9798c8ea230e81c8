"""Chinese word boundaries, from jieba's dictionary: a short term found inside a longer word is not the
term (法论 inside 方法论, 下流 across 线下|流量).

The hit is offered to the segmenter as a word of its own, as common as an ordinary word (`TERM_FREQ`),
and the most likely segmentation of a window around it (jieba's unigram model, its dictionary and
frequencies) decides: if that segmentation still cuts through the hit, a real word is there. Slang that
the dictionary lacks (刷单) thus wins over a rare neighbour (刷|单日结), and a common word (方法论) wins
over the term. Only a window around a short hit is segmented, so the hot path never pays for it; jieba's
HMM is not used, so an unknown run never swallows a hit.
"""

from __future__ import annotations

import logging
import math
import threading

import jieba

WINDOW = 8  # characters either side of a hit: enough for the longest dictionary words around it
TERM_FREQ = 100  # the weight a hit gets as a word: from 3 to 1,000 the labelled cases in tests agree
MAX_WORD = 12
_ready = threading.Lock()
_loaded = False


def load() -> None:
    """Load the dictionary (≈0.7 s, once a process). Called where the matcher is built, off the loop."""
    global _loaded
    with _ready:
        if not _loaded:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _loaded = True


def aligned(text: str, start: int, end: int) -> bool:
    """Whether the hit [start, end) of `text` starts and ends on word boundaries (it may span words)."""
    load()
    freq = jieba.dt.FREQ  # holds every prefix of every word (0 for a prefix alone): the walk stops early
    log = math.log
    log_total = log(jieba.dt.total)
    lo, hi = max(0, start - WINDOW), min(len(text), end + WINDOW)
    window, s, e = text[lo:hi], start - lo, end - lo
    n = len(window)
    best: list[tuple[float, int]] = [(0.0, n)] * (n + 1)
    for i in range(n - 1, -1, -1):
        # an unknown single character counts once; the hit itself as an ordinary word
        f = freq.get(window[i]) or 1
        choice = (log(f) - log_total + best[i + 1][0], i + 1)
        for j in range(i + 2, min(n, i + MAX_WORD) + 1):
            f = freq.get(window[i:j])
            if i == s and j == e:
                f = max(f or 0, TERM_FREQ)
            elif f is None:
                if i == s and j < e:
                    continue  # the hit may be no dictionary prefix: keep walking to its end
                break
            if f:
                score = log(f) - log_total + best[j][0]
                if score > choice[0]:
                    choice = (score, j)
        if i == s and e - s == 1:
            choice = max(choice, (log(TERM_FREQ) - log_total + best[e][0], e))
        best[i] = choice
    cuts, i = {0}, 0
    while i < n:
        i = best[i][1]
        cuts.add(i)
    return s in cuts and e in cuts


def frequency(word: str) -> int:
    """How often jieba's corpus saw the word (0: not a word)."""
    load()
    return jieba.dt.FREQ.get(word) or 0


def words(text: str) -> list[str]:
    """The words of a text, for linting a term against common words."""
    load()
    return list(jieba.cut(text, HMM=False))


def common_words(min_freq: int) -> dict[str, int]:
    """jieba's dictionary words at least `min_freq` frequent (a corpus count): a stand-in for 'words that
    appear in ordinary text' when a term is linted."""
    load()
    return {w: f for w, f in jieba.dt.FREQ.items() if f >= min_freq}
