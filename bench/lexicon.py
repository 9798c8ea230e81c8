"""Quality of the word list on real data: false positives on innocent text, recall on disguised terms.

    .venv/bin/python bench/lexicon.py LEXICON [INNOCENT ...] [--terms 200] [--seed 7]

LEXICON is a downloaded list (one term a line, or `term,category`), loaded as `/filter import force`
would. Each INNOCENT file is real text, a sentence a line (default: rules/data/innocent_zh.txt). Prints,
per innocent file, the share of sentences that any rule hits, with examples; then recall on an evasion
corpus built from `--terms` Chinese terms drawn from the lexicon, each disguised every way in
tests/evasions.py (character disguises with the list as it is; sound-alikes with the list matched by
pinyin). The script uses only `RuleSet(rules).check` and `parse_import`, so the same file run in an
older checkout measures the engine before a change: the before/after figures come from one machine.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rules.engine import Rule, RuleSet
from rules.lists import parse_import

ROOT = Path(__file__).resolve().parents[1]
WRAP = "朋友们看这里{}欢迎私聊"


def load(path: Path) -> list[Rule]:
    parsed, _errors = parse_import(path.read_text("utf-8", errors="ignore"))
    seen: set[tuple[str, str]] = set()
    rules = []
    for p in parsed:
        if (p.kind, p.pattern) not in seen:
            seen.add((p.kind, p.pattern))
            rules.append(Rule(len(rules) + 1, p.kind, p.pattern, "warn", p.category))  # type: ignore[arg-type]
    return rules


def build(rules: list[Rule], **options: object) -> RuleSet:
    try:
        return RuleSet(rules, **options)  # type: ignore[arg-type]
    except TypeError:  # an engine from before the options existed
        return RuleSet(rules)


def false_positives(ruleset: RuleSet, path: Path) -> None:
    lines = [
        ln.strip() for ln in path.read_text("utf-8").splitlines() if ln.strip() and not ln.startswith("#")
    ]
    hits = [(line, ruleset.check(line)) for line in lines]
    flagged = [(line, found) for line, found in hits if found]
    print(f"  {path.name}: {len(flagged)}/{len(lines)} sentences flagged = {len(flagged) / len(lines):.2%}")
    terms: dict[str, int] = {}
    for _line, found in flagged:
        for h in found:
            terms[h.rule.pattern] = terms.get(h.rule.pattern, 0) + 1
    top = sorted(terms.items(), key=lambda kv: -kv[1])[:15]
    print("    terms that fire most:", "  ".join(f"{t}×{n}" for t, n in top))
    for line, found in flagged[:6]:
        print(f"    · {line[:50]}  ← {', '.join(h.excerpt for h in found[:3])}")


def recall(ruleset: RuleSet, terms: list[str], evasions: dict, applies) -> tuple[int, int, dict[str, int]]:  # type: ignore[no-untyped-def,type-arg]
    prefix = len(WRAP.split("{}")[0])
    caught = total = 0
    missed: dict[str, int] = {}
    for term in terms:
        for name, evade in evasions.items():
            if not applies(name, term):
                continue
            disguised = evade(term)
            text = WRAP.format(disguised)
            span = (prefix, prefix + len(disguised))
            total += 1
            if any(h.start < span[1] and h.end > span[0] for h in ruleset.check(text)):
                caught += 1
            else:
                missed[name] = missed.get(name, 0) + 1
    return caught, total, missed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("lexicon", type=Path)
    parser.add_argument("innocent", type=Path, nargs="*")
    parser.add_argument("--terms", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rules = load(args.lexicon)
    start = time.perf_counter()
    ruleset = build(rules)
    print(f"{args.lexicon.name}: {len(rules):,} rules, built in {time.perf_counter() - start:.2f} s")
    print("false positives, every term (/filter import force): any rule hits an innocent sentence")
    for path in args.innocent or [ROOT / "rules" / "data" / "innocent_zh.txt"]:
        false_positives(ruleset, path)
    try:
        from rules import segment
        from rules.lists import LINT_FREQ, lint
    except ImportError:  # an engine from before lint existed
        pass
    else:
        found = lint(
            [r for r in parse_import(args.lexicon.read_text("utf-8", errors="ignore"))[0]],
            segment.common_words(LINT_FREQ),
        )
        held = {f.term for f in found}
        kept = build([r for r in rules if r.pattern not in held])
        print(f"false positives as /filter import adds it: {len(held)} terms held back by lint for a look")
        for path in args.innocent or [ROOT / "rules" / "data" / "innocent_zh.txt"]:
            false_positives(kept, path)
    try:
        from tests.evasions import CHARACTER, SOUND, applies
    except ImportError:
        return
    chinese = sorted(
        r.pattern
        for r in rules
        if r.kind == "literal"
        and 2 <= len(r.pattern) <= 6
        and all("\u4e00" <= c <= "\u9fff" for c in r.pattern)
    )
    sample = random.Random(args.seed).sample(chinese, min(args.terms, len(chinese)))
    caught, total, missed = recall(ruleset, sample, CHARACTER, applies)
    print(
        f"recall on character disguises of {len(sample)} lexicon terms: {caught}/{total} = {caught / total:.4f}"
    )
    if missed:
        print("    missed by disguise:", missed)
    sound = build(rules, pinyin="on")
    caught, total, missed = recall(sound, sample, SOUND, applies)
    print(
        f"recall on sound-alikes, the list matched by pinyin (3+ characters): {caught}/{total} = {caught / total:.4f}"
    )
    if missed:
        print("    missed by disguise:", missed)
    chosen = set(sample)
    each = build([replace(r, pinyin="on") if r.pattern in chosen else r for r in rules])
    caught, total, missed = recall(each, sample, SOUND, applies)
    print(f"recall on sound-alikes, each sampled term opted in: {caught}/{total} = {caught / total:.4f}")
    if missed:
        print("    missed by disguise:", missed)
    for path in args.innocent or [ROOT / "rules" / "data" / "innocent_zh.txt"]:
        lines = [ln for ln in path.read_text("utf-8").splitlines() if ln.strip()]
        flagged = sum(1 for ln in lines if any(h.by_sound for h in sound.check(ln)))
        print(
            f"  pinyin on, {path.name}: {flagged}/{len(lines)} sentences hit by sound = {flagged / len(lines):.2%}"
        )


if __name__ == "__main__":
    main()
