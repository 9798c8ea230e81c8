"""Import and export of rule lists: plain text (one term a line) and CSV (term, kind, action, category).

Pure. A bad line is reported by its number with the reason; the good ones are imported all the same.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from rules.engine import ACTIONS, KINDS, BadRule, Rule, validate

MAX_IMPORT_LINES = 100_000


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
    reason: str


def _looks_csv(lines: list[str]) -> bool:
    sample = [ln for ln in lines[:20] if ln.strip() and not ln.lstrip().startswith("#")]
    return bool(sample) and all("," in ln for ln in sample)


def parse_import(text: str, default_action: str = "warn") -> tuple[list[Parsed], list[LineError]]:
    lines = text.splitlines()[:MAX_IMPORT_LINES]
    rows: list[Parsed] = []
    errors: list[LineError] = []
    if _looks_csv(lines):
        reader = csv.reader(lines)
        for number, fields in enumerate(reader, start=1):
            if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
                continue
            if number == 1 and fields[0].strip().lower() in ("term", "词", "关键词"):
                continue  # a header
            fields = [f.strip() for f in fields] + ["", "", ""]
            term, kind, action, category = (
                fields[0],
                fields[1] or "literal",
                fields[2] or default_action,
                fields[3],
            )
            _add(
                rows,
                errors,
                number,
                lines[number - 1] if number <= len(lines) else term,
                term,
                kind,
                action,
                category,
            )
        return rows, errors
    for number, line in enumerate(lines, start=1):
        term = line.strip()
        if not term or term.startswith("#"):
            continue
        _add(rows, errors, number, line, term, "literal", default_action, "")
    return rows, errors


def _add(
    rows: list[Parsed],
    errors: list[LineError],
    number: int,
    line: str,
    term: str,
    kind: str,
    action: str,
    category: str,
) -> None:
    kind, action = kind.lower(), action.lower()
    if kind not in KINDS:
        errors.append(LineError(number, line[:60], f"kind must be one of {'/'.join(KINDS)}"))
        return
    if action not in ACTIONS:
        errors.append(LineError(number, line[:60], f"action must be one of {'/'.join(ACTIONS)}"))
        return
    try:
        pattern = validate(kind, term)
    except BadRule as exc:
        errors.append(LineError(number, line[:60], str(exc)))
        return
    rows.append(Parsed(kind, pattern, action, category[:40]))


def export_text(rules: list[Rule]) -> str:
    return "\n".join(r.pattern for r in rules if r.kind == "literal")


def export_csv(rules: list[Rule]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["term", "kind", "action", "category"])
    for r in rules:
        writer.writerow([r.pattern, r.kind, r.action, r.category])
    return out.getvalue()
