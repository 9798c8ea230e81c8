"""How fast one member may press buttons in one group: a small token bucket per (group, member).

A press costs a unit of work, a database write or two, and often an edit of a shared message in the
group's send budget; one member pressing fifty times must not cost fifty of each, nor flood the admins.
The bucket lets a burst through (paging a list, voting on a few needs) and then one press a second;
a press beyond it is answered privately and does nothing else.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

BURST = 8  # presses at once
PER_SECOND = 1.0  # presses a second after the burst
MAX_TRACKED = 50_000  # members remembered (least recently pressing forgotten first)


class PressLimiter:
    def __init__(
        self,
        burst: int = BURST,
        per_second: float = PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        self.burst, self.per_second, self._clock, self._max = burst, per_second, clock, max_tracked
        self._buckets: OrderedDict[tuple[int, str], tuple[float, float]] = OrderedDict()
        self.refused = 0

    def allow(self, group_id: int, user_id: str) -> bool:
        """Take one press from the member's bucket; False when it is empty (too fast)."""
        now, key = self._clock(), (group_id, user_id)
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
        allowed = tokens >= 1
        self._buckets[key] = (tokens - 1 if allowed else tokens, now)
        if len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        if not allowed:
            self.refused += 1
        return allowed
