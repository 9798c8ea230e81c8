"""Run every bench and print each figure beside its baseline from the same run.

    .venv/bin/python bench/run.py [--quick]

--quick uses smaller sizes (a minute instead of several). bench/lexicon.py needs a downloaded lexicon
and is run by hand (see its docstring).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FULL = {
    "dispatch": ["20000"],
    "points": ["100000", "1000000"],
    "moderation": ["10000"],
    "memory": ["200000"],
    "needs": ["10000", "500000"],
    "recall": ["200000", "5000"],
    "campaigns": ["10000", "1000", "3000"],
    "digest": ["100000", "1000000"],
    "faq": ["20000"],
}
QUICK = {
    "dispatch": ["5000"],
    "points": ["20000", "200000"],
    "moderation": ["10000"],
    "memory": ["20000"],
    "needs": ["2000", "100000"],
    "recall": ["20000", "600"],
    "campaigns": ["2000", "200", "300"],
    "digest": ["20000", "200000"],
    "faq": ["5000"],
}


def main() -> None:
    sizes = QUICK if "--quick" in sys.argv else FULL
    print(f"{'figure':<44} {'value':>12}  {'baseline (same run)':>28}  {'ratio':>7}  goal")
    for bench, args in sizes.items():
        out = subprocess.run(
            [sys.executable, str(ROOT / "bench" / f"{bench}.py"), *args, "--json"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if out.returncode != 0:
            print(f"{bench}: failed\n{out.stderr[-2000:]}")
            continue
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"[{bench}]")
        for f in result["figures"]:
            value = f"{f['value']:,.1f} {f['unit']}"
            base, ratio = "", ""
            if f["baseline"]:
                base = f"{f['baseline']:,.1f} {f['unit']} {f['baseline_name']}".strip()
                ratio = f"{f['baseline'] / f['value']:.1f}x" if f["unit"] != "/s" else ""
                if f["unit"] == "/s":
                    ratio = f"{f['value'] / f['baseline']:.1f}x"
            print(f"  {f['name']:<42} {value:>12}  {base:>28}  {ratio:>7}  {f['goal']}")


if __name__ == "__main__":
    main()
