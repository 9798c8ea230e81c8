"""Import and export of rule lists, parsed a line at a time so one paste may mix formats:

- a plain term a line (the downloaded lexicons: houbb/sensitive-word, konsheng/Sensitive-lexicon);
- `regex:<pattern>` / `fuzzy:<term>` / `literal:<term>` a line;
- CSV: `term,category` (a lexicon with categories), `term,action`, or `term,kind,action,category` (what
  /filter export writes; a header line is skipped).
Every bad line is reported by its number with a reason code; the good ones are imported all the same.
`lint` then points at the terms an operator should look at before they go live. Pure: the same parser
serves a pasted list and an attached file.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from rules.engine import ACTIONS, KINDS, BadRule, Rule, validate
from rules.normalize import compact

MAX_IMPORT_LINES = 200_000
HEADERS = ("term", "词", "关键词", "敏感词")
DATA = Path(__file__).with_name("data")


@dataclass(frozen=True, slots=True)
class Parsed:
    kind: str
    pattern: str
    action: str
    category: str


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    text: str
    code: str  # filter.err.<code>
    params: dict[str, object] = field(default_factory=dict)


def _prefixed(text: str) -> tuple[str, str] | None:
    head, sep, tail = text.partition(":")
    if sep and head.strip().lower() in KINDS and tail.strip():
        return head.strip().lower(), tail.strip()
    return None


def parse_line(line: str, default_action: str) -> tuple[str, str, str, str] | None:
    """(term, kind, action, category) of one line, or None for a blank line, a comment or a header."""
    text = "".join(c for c in line if unicodedata.category(c) != "Cc" or c == "\t").strip()
    if not text or text.startswith("#"):
        return None
    prefixed = _prefixed(text)
    if prefixed is not None:  # a pattern may hold commas: never split it
        return prefixed[1], prefixed[0], default_action, ""
    if "," not in text:
        return text, "literal", default_action, ""
    fields = [f.strip() for f in next(csv.reader([text]))]
    if not fields or fields[0].lower() in HEADERS:
        return None
    term, rest = fields[0], [f for f in fields[1:]]
    kind, action, category = "literal", default_action, ""
    if (p := _prefixed(term)) is not None:
        kind, term = p
    if len(rest) >= 3:  # term,kind,action,category as exported
        kind = rest[0].lower() or kind
        action = rest[1].lower() or default_action
        category = rest[2]
    else:  # term,category / term,action / term,kind[,action]
        for value in rest:
            low = value.lower()
            if low in KINDS:
                kind = low
            elif low in ACTIONS:
                action = low
            elif value and not category:
                category = value
    return term, kind, action, category


def parse_import(text: str, default_action: str = "warn") -> tuple[list[Parsed], list[LineError]]:
    rows: list[Parsed] = []
    errors: list[LineError] = []
    for number, line in enumerate(text.splitlines()[:MAX_IMPORT_LINES], start=1):
        try:
            parsed = parse_line(line, default_action)
        except csv.Error:
            errors.append(LineError(number, line.strip()[:60], "csv"))
            continue
        if parsed is None:
            continue
        term, kind, action, category = parsed
        if kind not in KINDS:
            errors.append(LineError(number, line.strip()[:60], "kind", {"kinds": "/".join(KINDS)}))
            continue
        if action not in ACTIONS:
            errors.append(LineError(number, line.strip()[:60], "action", {"actions": "/".join(ACTIONS)}))
            continue
        try:
            pattern = validate(kind, term)
        except BadRule as exc:
            errors.append(LineError(number, line.strip()[:60], exc.code, dict(exc.params)))
            continue
        rows.append(Parsed(kind, pattern, action, category[:40]))
    return rows, errors


@cache
def shipped_allow() -> tuple[str, ...]:
    """Common words that contain short terms of public lexicons: every group's allow-list starts here."""
    lines = (DATA / "common_words.txt").read_text("utf-8").splitlines()
    return tuple(w.strip() for w in lines if w.strip() and not w.startswith("#"))


# --- lint ----------------------------------------------------------------------------------------------

LINT_FREQ = 1000  # a jieba dictionary word this frequent is an everyday word (长期, 母亲): bench/lexicon.py


@dataclass(frozen=True, slots=True)
class Lint:
    term: str
    code: str  # single | normalised | common | innocent
    detail: str = ""


def _innocent_lines() -> list[str]:
    return [
        ln
        for ln in (DATA / "innocent_zh.txt").read_text("utf-8").splitlines()
        if ln.strip() and not ln.startswith("#")
    ]


def lint(rows: Iterable[Parsed], common: dict[str, int] | None = None) -> list[Lint]:
    """Terms to look at before they go live: one character long; changed by normalisation (㈠ → 一, a
    full-width form); an everyday word by itself (`common`, a word → frequency map, jieba's when given);
    found in the shipped innocent sentences (rules/data/innocent_zh.txt)."""
    from rules.terms import Term, TermMatcher  # a matcher over the terms: one scan of the sentences

    out: list[Lint] = []
    literal = [r for r in rows if r.kind == "literal"]
    flagged: set[str] = set()
    for r in literal:
        key = compact(r.pattern)
        if len(key) == 1:
            out.append(Lint(r.pattern, "single"))
            flagged.add(r.pattern)
        elif unicodedata.normalize("NFKC", r.pattern).casefold() != r.pattern.casefold():
            out.append(Lint(r.pattern, "normalised", key))
            flagged.add(r.pattern)
        elif common and key in common:
            out.append(Lint(r.pattern, "common"))
            flagged.add(r.pattern)
    rest = [r for r in literal if r.pattern not in flagged]
    if rest:
        matcher = TermMatcher([Term(r.pattern, ref=i) for i, r in enumerate(rest)])
        seen: set[int] = set()
        for line in _innocent_lines():
            for hit in matcher.find(line):
                if hit.term.ref not in seen:
                    seen.add(hit.term.ref)
                    out.append(Lint(hit.term.text, "innocent", line[:40]))
    return out


def export_text(rules: list[Rule]) -> str:
    return "\n".join(r.pattern for r in rules if r.kind == "literal")


def export_csv(rules: list[Rule]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["term", "kind", "action", "category"])
    for r in rules:
        writer.writerow([r.pattern, r.kind, r.action, r.category])
    return out.getvalue()
