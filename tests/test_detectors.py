"""Detectors: links and invites with an allow-list, contact ads, mass mentions, flood and repeats."""

from __future__ import annotations

import pytest

from rules.detectors import FloodTracker, contacts, links, mention_count


def kinds(found: list) -> list[str]:  # type: ignore[type-arg]
    return [f.kind for f in found]


def test_links_and_invites() -> None:
    assert kinds(links("join t.me/+AbCdEf123 now")) == ["invite"]
    assert kinds(links("old style t.me/joinchat/AAAA-bbb")) == ["invite"]
    assert kinds(links("discord.gg/abc123 and https://discord.com/invite/xyz")) == ["invite", "invite"]
    assert kinds(links("see https://spam.example.com/x?y=1")) == ["link"]
    assert kinds(links("cheap at buy-now.top today")) == ["link"]
    assert links("docs at https://docs.python.org/3/", allow=frozenset({"python.org"})) == []
    assert links("version 3.11 and e.g. this") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call 13812345678", ["phone"]),
        ("call 138 1234 5678", ["phone"]),
        ("+86 138-1234-5678", ["phone"]),
        ("order 20261122", []),
        ("加微信：abc_123", ["contact"]),
        ("ｖｘ abc12345", ["contact"]),
        ("威信 wx_8888", ["contact"]),
        ("QQ 12345678", ["contact"]),
        ("我用微信聊天", []),
    ],
)
def test_contact_ads(text: str, expected: list[str]) -> None:
    assert kinds(contacts(text)) == expected


def test_mass_mentions() -> None:
    assert mention_count("@alice @bob @carol_x hi") == 3
    assert mention_count("<@123> <@!456> mail me@example.com") == 2


def test_flood_and_repeats() -> None:
    tracker = FloodTracker(max_messages=5, window_ms=10_000, max_repeats=3, repeat_window_ms=60_000)
    assert not any(tracker.flooding(1, "a", t * 1000) for t in range(5))
    assert tracker.flooding(1, "a", 5_000)  # the 6th within 10 s
    assert not tracker.flooding(1, "b", 5_000)  # per member
    assert not tracker.flooding(1, "a", 30_000)  # the window slid
    assert not tracker.repeating(1, "a", "buy now", 0)
    assert not tracker.repeating(1, "a", "BUY  NOW!", 1_000)
    assert tracker.repeating(1, "a", "b u y n o w", 2_000)  # the same text, however spelled, 3 times
    assert not tracker.repeating(2, "a", "buy now", 2_000)  # another group
    assert not tracker.repeating(3, "a", "😀😀", 0) and not tracker.repeating(3, "a", "😀 😀", 1)
    assert tracker.repeating(3, "a", "😀😀", 2)  # emoji alone repeat too (they are no letters)


def test_the_flood_tracker_forgets_members_idle_beyond_every_window() -> None:
    tracker = FloodTracker(max_messages=5, window_ms=10_000, max_repeats=3, repeat_window_ms=60_000)
    for i in range(1000):
        tracker.flooding(1, f"m{i}", i)
        tracker.repeating(1, f"m{i}", "hello", i)
    assert len(tracker) == 1000  # all within the minute
    assert not tracker.repeating(1, "m1", "hello", 59_000)
    assert tracker.repeating(1, "m1", "hello", 59_500)  # still remembered: the third within the minute
    tracker.flooding(1, "late", 120_000)  # a minute later: the others can no longer count for anything
    assert len(tracker) == 1
    assert not tracker.repeating(1, "m1", "hello", 120_001)  # a fresh start, not a repeat
