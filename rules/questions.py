"""Is a message a question, and which saved question does it ask? Pure functions over text folded as
moderation folds it (width, traditional → simplified, case, separators dropped), scored with rapidfuzz.

Measured on tests/data/faq_questions.tsv (96 answerable questions with paraphrases, typos and traditional
characters against the 20 entries of faq_entries.tsv, and 8 that no entry answers) and 107 ordinary
chat lines (faq_chat.txt): at the default 85, precision 1.0, recall 0.98, no chat line answered.
"""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz import fuzz, process

from rules.normalize import compact

_FILLERS = tuple(
    compact(f) for f in ("请问", "请教", "想问下", "想问", "问一下", "问下", "大家", "有人知道", "谁知道")
)
_TAIL = frozenset("吗呢啊呀吧嘛丫哈哦")
_STARTS = (
    "请问", "怎么", "怎样", "如何", "哪里", "哪儿", "什么", "为什么", "能不能", "可以", "有没有", "谁",
    "what", "how", "where", "when", "why", "who", "can ", "is there", "do ", "does ",
)  # fmt: skip
MAX_QUESTION = 200


def question_key(text: str) -> str:
    """The question's words: folded, polite fillers (请问, 大家) and trailing particles (吗, 呢) dropped."""
    key = compact(text)
    for filler in _FILLERS:
        key = key.replace(filler, "")
    while key and key[-1] in _TAIL:
        key = key[:-1]
    return key


def is_question(text: str) -> bool:
    """A question mark at the end, or a question word at the start (traditional characters folded)."""
    stripped = text.strip()
    if not stripped or len(stripped) > MAX_QUESTION:
        return False
    if stripped.endswith(("?", "？")):
        return True
    head = stripped.lower()
    return head.startswith(_STARTS) or compact(head[:6]).startswith(("怎么", "为什么", "什么"))


class QuestionIndex:
    """Every saved question and phrasing of a group, folded once: a member's question is then one scan
    in rapidfuzz's C loop, not a Python loop re-folding each phrasing per message."""

    def __init__(self, candidates: dict[int, list[str]]) -> None:
        self.keys: list[str] = []
        self.owners: list[int] = []
        for entry_id, keys in candidates.items():
            for key in keys:
                if key:
                    self.keys.append(key)
                    self.owners.append(entry_id)

    def best(self, key: str, cutoff: float = 0) -> tuple[int, float] | None:
        """The entry (by id) whose question or phrasing is closest to `key`, with its score (0-100);
        the first saved wins a tie; None below `cutoff`."""
        if not key or not self.keys:
            return None
        found = process.extractOne(key, self.keys, scorer=fuzz.WRatio, score_cutoff=cutoff or None)
        return None if found is None else (self.owners[found[2]], float(found[1]))


def repeated(
    asked: Iterable[tuple[str, str, str]], *, min_askers: int = 2, top: int = 5, score: float = 80
) -> list[tuple[str, int]]:
    """Questions several members asked that no entry answers, as (one member's wording, members who
    asked), most asked first: candidates for new entries. `asked` is (key, text, user), newest first;
    keys at least `score` alike count as one question (a little looser than an automatic answer: grouping
    wordings costs nothing if it errs). Each key is compared with the first wording of every question so
    far: quadratic only in the distinct questions of one period, which the caller caps."""
    heads: list[str] = []
    texts: list[str] = []
    askers: list[set[str]] = []
    for key, text, user in asked:
        if not key:
            continue
        found = process.extractOne(key, heads, scorer=fuzz.WRatio, score_cutoff=score) if heads else None
        if found is None:
            heads.append(key)
            texts.append(text)
            askers.append({user})
        else:
            askers[found[2]].add(user)
    ranked = sorted(
        ((texts[i], len(askers[i])) for i in range(len(heads)) if len(askers[i]) >= min_askers),
        key=lambda x: -x[1],
    )
    return ranked[:top]
