"""A group's moderation rules compiled into one matcher: literal terms (Aho-Corasick), bounded regexes and
opt-in fuzzy terms. Pure: the handler builds one `RuleSet` per group and rebuilds it when a rule changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz

from rules.normalize import compact, normalize
from rules.patterns import MESSAGE_BUDGET, BadPattern, Pattern, TimedOut, compile_pattern, search_or_raise
from rules.pinyin import SoundMatcher
from rules.terms import Term, TermMatcher

Kind = Literal["literal", "regex", "fuzzy"]
Action = Literal["alert", "delete", "warn", "mute", "kick", "ban"]
KINDS: tuple[Kind, ...] = ("literal", "regex", "fuzzy")
ACTIONS: tuple[Action, ...] = ("alert", "delete", "warn", "mute", "kick", "ban")
# Which of several matched rules decides: the harshest. "alert" only tells admins (关键词预警).
SEVERITY: dict[str, int] = {a: i for i, a in enumerate(ACTIONS)}

MAX_TERM = 100
MAX_FUZZY_RULES = 200  # fuzzy matching is a loop over terms: for short lists only
MIN_FUZZY_CHARS = 4  # shorter fuzzy terms match too much by accident
FUZZY_CUTOFF = 80.0  # one letter changed in a six-letter word (kasino for casino) scores 83


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    kind: Kind
    pattern: str
    action: Action = "warn"
    category: str = ""
    mute_seconds: int = 0  # with action "mute"; 0 = the ladder decides
    exceptions: tuple[str, ...] = ()
    shadow: bool = False  # matches are logged with what would have happened; nothing is done
    pinyin: str = ""  # matching by sound: "on", "shadow", "off", or "" to follow the list's setting


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule: Rule
    start: int  # in the original text
    end: int
    excerpt: str
    normalized: str  # the normalised form the match was found in (for /filter test)
    by_sound: bool = False  # found by pinyin (ban证, 扮证), not by its characters
    shadow: bool = False  # a sound match in shadow mode: logged, nothing done


class BadRule(ValueError):
    """A rule that cannot be compiled. `code` names the reason and `params` fill it in: the handler words
    it in the admin's language (locale keys `filter.err.<code>`)."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code, params)
        self.code = code
        self.params = params


def validate(kind: str, pattern: str) -> str:
    """The pattern as stored, or BadRule. Regexes are compiled (and refused) here, when added."""
    pattern = pattern.strip()
    if kind not in KINDS:
        raise BadRule("kind", kinds="/".join(KINDS))
    limit = MAX_TERM * (3 if kind == "regex" else 1)
    if not pattern or len(pattern) > limit:
        raise BadRule("length", max=limit)
    if kind == "regex":
        try:
            compile_pattern(pattern)
        except BadPattern as exc:
            raise BadRule("regex", detail=exc.detail, position=exc.position) from exc
    elif not compact(pattern):
        raise BadRule("no_letters")
    elif kind == "fuzzy" and len(compact(pattern)) < MIN_FUZZY_CHARS:
        raise BadRule("fuzzy_short", min=MIN_FUZZY_CHARS)
    return pattern


PINYIN_MODES = ("off", "shadow", "on")
# Two syllables sound like some pair of characters in most sentences, and a 65,000-term list of them
# costs ≈0.5 ms a message: the whole-list setting covers terms of 3+ characters; shorter ones opt in alone.
LIST_SOUND_MIN = 3


class RuleSet:
    """Built off the event loop (a 64,000-term list takes about a second); `check` is fast and pure."""

    def __init__(
        self,
        rules: list[Rule],
        *,
        allow: tuple[str, ...] = (),
        segment_max: int = 2,
        pinyin: str = "off",
    ) -> None:
        self.rules = rules
        self.options = (allow, segment_max, pinyin)
        self._terms = TermMatcher(
            [
                Term(r.pattern, r.category, r.exceptions, ref=i)
                for i, r in enumerate(rules)
                if r.kind == "literal"
            ],
            allow=allow,
            segment_max=segment_max,
        )
        # The list's setting reaches terms of LIST_SOUND_MIN+ characters; a rule's own mode, any term.
        self._sound_mode = {
            i: r.pinyin or pinyin
            for i, r in enumerate(rules)
            if r.kind == "literal"
            and (r.pinyin or pinyin) != "off"
            and (r.pinyin or len(compact(r.pattern)) >= LIST_SOUND_MIN)
        }
        self._sound = (
            SoundMatcher([(rules[i].pattern, i) for i in self._sound_mode]) if self._sound_mode else None
        )
        self._regexes: list[tuple[Rule, Pattern]] = []
        self.regex_budget_spent = 0  # messages whose regexes ran out of MESSAGE_BUDGET before the last one
        self._fuzzy: list[tuple[Rule, str]] = []
        for rule in rules:
            if rule.kind == "regex":
                try:
                    self._regexes.append((rule, compile_pattern(rule.pattern)))
                except BadPattern:
                    continue  # validated when added; a stored one a newer build refuses is skipped
            elif rule.kind == "fuzzy" and len(self._fuzzy) < MAX_FUZZY_RULES:
                key = compact(rule.pattern)
                if len(key) >= MIN_FUZZY_CHARS:
                    self._fuzzy.append((rule, key))

    def __len__(self) -> int:
        return len(self.rules)

    def check(self, text: str) -> list[RuleHit]:
        """Every rule the text breaks. Literal terms and fuzzy terms see the normalised text; regexes see
        the folded text with its separators (width, case, script, look-alikes folded)."""
        hits = [
            RuleHit(self.rules[h.term.ref], h.start, h.end, h.excerpt, compact(h.excerpt))
            for h in self._terms.find(text)
        ]
        if self._sound is not None:
            found = {id(h.rule) for h in hits}
            for s in self._sound.find(text):
                rule = self.rules[s.ref]
                if id(rule) not in found:
                    excerpt = text[s.start : s.end]
                    shadow = self._sound_mode[s.ref] == "shadow"
                    hits.append(RuleHit(rule, s.start, s.end, excerpt, compact(excerpt), True, shadow))
        if self._regexes:
            hits += self._check_regexes(text)
        if self._fuzzy:
            hits += self._check_fuzzy(text)
        return hits

    def _check_regexes(self, text: str) -> list[RuleHit]:
        """Every regex against the text and its folded form, within MESSAGE_BUDGET seconds in all: each
        search gets a fair share of what is left (and 50 ms at most), so every pattern is tried, and a
        pattern that runs out of time moves to the back of the order, leaving the bigger shares to the
        patterns that finish."""
        norm = normalize(text)
        out = []
        deadline = time.perf_counter() + MESSAGE_BUDGET
        slow: list[int] = []
        count = len(self._regexes)
        for index, (rule, pattern) in enumerate(self._regexes):
            left = deadline - time.perf_counter()
            if left <= 0:
                self.regex_budget_spent += 1
                break
            share = left / (2 * (count - index))  # a fair share: every pattern gets its try
            for subject, origin in ((text, None), (norm.spaced, norm.spaced_origin)):
                try:
                    span = search_or_raise(pattern, subject, share)
                except TimedOut:
                    slow.append(index)
                    break
                if span is None:
                    continue
                start, end = (
                    span if origin is None else (origin[span[0]], origin[max(span[1] - 1, span[0])] + 1)
                )
                out.append(RuleHit(rule, start, end, text[start:end], subject[span[0] : span[1]]))
                break
        if slow:
            cut = set(slow)
            self._regexes = [r for i, r in enumerate(self._regexes) if i not in cut] + [
                self._regexes[i] for i in slow
            ]
        return out

    def _check_fuzzy(self, text: str) -> list[RuleHit]:
        norm = normalize(text)
        subject = norm.compact
        out = []
        for rule, key in self._fuzzy:
            if len(subject) < len(key) - 1:
                continue
            found = fuzz.partial_ratio_alignment(key, subject, score_cutoff=FUZZY_CUTOFF)
            if found is None or found.dest_end <= found.dest_start:
                continue
            start, end = norm.original_span(found.dest_start, found.dest_end)
            out.append(RuleHit(rule, start, end, text[start:end], subject[found.dest_start : found.dest_end]))
        return out
