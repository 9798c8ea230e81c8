"""Kill points for fault-injection tests: the code says where a process could die, a test picks one.

`hit()` is called at every point where a real `kill -9` would leave a different state (before each
statement, around each commit, around each platform call). Unarmed, it is one integer comparison.
"""

from __future__ import annotations


class Killed(BaseException):
    """Raised at the armed point. A BaseException: no `except Exception` in a handler may swallow it."""


_countdown = 0  # 0: unarmed; n: the n-th hit from now raises
hits = 0  # how many points were passed while armed or counting (tests use it to enumerate them)
_counting = False


def hit(where: str = "") -> None:
    global _countdown, hits
    if _countdown:
        hits += 1
        _countdown -= 1
        if _countdown == 0:
            raise Killed(where)
    elif _counting:
        hits += 1


def arm(n: int) -> None:
    """Die at the n-th point from now (n ≥ 1)."""
    global _countdown, hits
    _countdown, hits = n, 0


def count() -> None:
    """Count the points passed from now, without dying (to learn how many there are)."""
    global _counting, hits, _countdown
    _counting, hits, _countdown = True, 0, 0


def disarm() -> int:
    """Stop counting or dying; returns how many points were passed."""
    global _countdown, _counting
    _countdown, _counting = 0, False
    return hits
