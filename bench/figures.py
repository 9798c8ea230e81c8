"""What every bench reports: named figures, each beside its baseline from the same run.

A bench calls `begin()` first (with `--json`, its human-readable lines go to stderr), `record(...)` for
each figure, and `end()` last (with `--json`, one JSON object on stdout). bench/run.py reads those.
"""

from __future__ import annotations

import json
import sys
from typing import Any

_figures: list[dict[str, Any]] = []
_stdout = sys.stdout


def begin() -> None:
    if "--json" in sys.argv:
        sys.stdout = sys.stderr


def args() -> list[str]:
    return [a for a in sys.argv[1:] if a != "--json"]


def record(
    name: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    baseline_name: str = "",
    goal: str = "",
) -> None:
    _figures.append(
        {
            "name": name,
            "value": value,
            "unit": unit,
            "baseline": baseline,
            "baseline_name": baseline_name,
            "goal": goal,
        }
    )


def end(bench: str) -> None:
    if "--json" in sys.argv:
        print(json.dumps({"bench": bench, "figures": _figures}, ensure_ascii=False), file=_stdout)
