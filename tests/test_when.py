"""`<when>` in both languages: every form, its next fire times in the group's timezone, across DST."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.when import WhenError, min_gap, parse_when

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=SH)  # a Sunday


def fires(text: str, tz: str = "Asia/Shanghai", now: datetime = NOW, n: int = 3) -> list[str]:
    schedule, _rest = parse_when(text, now, tz)
    return [f.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %a") for f in schedule.next_fires(now, n)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01 20:00 text", ["2026-12-01 20:00 Tue"]),
        ("12-01 20:00 text", ["2026-12-01 20:00 Tue"]),
        ("12月1日 晚上8点 text", ["2026-12-01 20:00 Tue"]),
        ("明天 20:00 text", ["2026-11-23 20:00 Mon"]),
        ("后天 8点半 text", ["2026-11-24 08:30 Tue"]),
        ("tomorrow 8pm text", ["2026-11-23 20:00 Mon"]),
        ("today 8:30 pm text", ["2026-11-22 20:30 Sun"]),
        ("in 2h text", ["2026-11-22 11:00 Sun"]),
        ("2小时后 text", ["2026-11-22 11:00 Sun"]),
        ("30分钟后 text", ["2026-11-22 09:30 Sun"]),
        ("每天 20:00 text", ["2026-11-22 20:00 Sun", "2026-11-23 20:00 Mon", "2026-11-24 20:00 Tue"]),
        ("daily 8am text", ["2026-11-23 08:00 Mon", "2026-11-24 08:00 Tue", "2026-11-25 08:00 Wed"]),
        ("每周一 09:00 text", ["2026-11-23 09:00 Mon", "2026-11-30 09:00 Mon", "2026-12-07 09:00 Mon"]),
        ("每周一三五 晚上8点 text", ["2026-11-23 20:00 Mon", "2026-11-25 20:00 Wed", "2026-11-27 20:00 Fri"]),
        ("周六、周日 10:00 text", ["2026-11-22 10:00 Sun", "2026-11-28 10:00 Sat", "2026-11-29 10:00 Sun"]),
        ("mon 09:00 text", ["2026-11-23 09:00 Mon", "2026-11-30 09:00 Mon", "2026-12-07 09:00 Mon"]),
        ("every tue,thu 7pm text", ["2026-11-24 19:00 Tue", "2026-11-26 19:00 Thu", "2026-12-01 19:00 Tue"]),
        ("每月1号 10:00 text", ["2026-12-01 10:00 Tue", "2027-01-01 10:00 Fri", "2027-02-01 10:00 Mon"]),
        ("monthly 15 10:00 text", ["2026-12-15 10:00 Tue", "2027-01-15 10:00 Fri", "2027-02-15 10:00 Mon"]),
        ("every 3h text", ["2026-11-22 09:00 Sun", "2026-11-22 12:00 Sun", "2026-11-22 15:00 Sun"]),
        ("每3小时 text", ["2026-11-22 09:00 Sun", "2026-11-22 12:00 Sun", "2026-11-22 15:00 Sun"]),
        (
            'cron "0 20 * * 1-5" text',
            ["2026-11-23 20:00 Mon", "2026-11-24 20:00 Tue", "2026-11-25 20:00 Wed"],
        ),
        (
            'cron "30 9 * * 0,6" text',
            ["2026-11-22 09:30 Sun", "2026-11-28 09:30 Sat", "2026-11-29 09:30 Sun"],
        ),
        ("２０２６－１２－０１ ２０：００ text", ["2026-12-01 20:00 Tue"]),  # full width
    ],
)
def test_every_form_and_its_next_fires(text: str, expected: list[str]) -> None:
    assert fires(text) == expected
    assert parse_when(text, NOW, "Asia/Shanghai")[1].strip() == "text"


def test_a_daily_time_stays_local_across_dst_and_a_skipped_time_fires_once() -> None:
    before = datetime(2027, 3, 13, 12, 0, tzinfo=NY)  # DST starts 2027-03-14 02:00 in New York
    assert fires("daily 20:00 x", "America/New_York", before, 3) == [
        "2027-03-13 20:00 Sat",
        "2027-03-14 20:00 Sun",
        "2027-03-15 20:00 Mon",
    ]
    skipped = fires("daily 02:30 x", "America/New_York", before, 3)
    assert len(skipped) == 3 and len({s[:10] for s in skipped}) == 3  # one fire on the short day
    assert skipped[0].startswith("2027-03-14") and skipped[1].startswith("2027-03-15 02:30")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("2020-01-01 10:00 x", "past"),
        ("今天 08:00 x", "past"),
        ("2026-02-30 10:00 x", "bad_date"),
        ("每天 x", "need_time"),
        ("daily 25:00 x", "bad_time"),
        ("tomorrow 13pm x", "bad_time"),
        ('cron "0 20 * *" x', "bad_cron"),
        ('cron "0 25 * * *" x', "bad_cron"),
        ('cron "0 20 * * 9" x', "bad_cron"),
        ("sometime soon x", "unreadable"),
        ("in 2 fortnights x", "unreadable"),
        ("x" * 10_000, "unreadable"),
    ],
)
def test_bad_input_says_what_could_not_be_read(text: str, code: str) -> None:
    with pytest.raises(WhenError) as err:
        parse_when(text, NOW, "Asia/Shanghai")
    assert err.value.code == code


def test_the_gap_between_fires() -> None:
    every = parse_when("every 5m x", NOW, "UTC")[0]
    assert min_gap(every, NOW) is not None and min_gap(every, NOW).total_seconds() == 300  # type: ignore[union-attr]
    assert min_gap(parse_when("明天 20:00 x", NOW, "Asia/Shanghai")[0], NOW) is None


def test_cron_with_day_and_weekday_fires_on_either_as_standard_cron() -> None:
    # NOW is Sunday 2026-11-22: every 1st and every Monday, not only Mondays that are the 1st
    assert fires('cron "0 9 1 * 1" text', n=5) == [
        "2026-11-23 09:00 Mon",
        "2026-11-30 09:00 Mon",
        "2026-12-01 09:00 Tue",
        "2026-12-07 09:00 Mon",
        "2026-12-14 09:00 Mon",
    ]
    # a field starting with '*' makes it an AND again (cron's own rule): Mondays on the 1st, 11th, 21st, 31st
    assert fires('cron "0 9 */10 * 1" text', n=1) == ["2026-12-21 09:00 Mon"]
    assert fires('cron "0 9 1 * *" text', n=2) == ["2026-12-01 09:00 Tue", "2027-01-01 09:00 Fri"]
    # no 31st of April, June, September or November: the Sundays of those months still fire
    assert fires('cron "0 0 31 4,6,9,11 0" text', n=2) == ["2026-11-29 00:00 Sun", "2027-04-04 00:00 Sun"]


def test_never_firing_cron_is_found_quickly() -> None:
    import time

    for cron in ("0 0 31 4,6,9,11 *", "0 20 31 2 *", "0 0 30 2 *"):
        schedule, _ = parse_when(f'cron "{cron}" text', NOW, "Asia/Shanghai")
        started = time.perf_counter()
        assert not schedule.ever_fires(NOW)
        assert time.perf_counter() - started < 0.05, cron  # was 0.34 s walking to the year 9999
    leap, _ = parse_when('cron "0 0 29 2 *" text', NOW, "Asia/Shanghai")
    assert leap.ever_fires(datetime(2097, 3, 1, tzinfo=SH))  # next 29 February: 2104, 7 years on


@pytest.mark.parametrize("tz", ["Asia/Shanghai", "America/Los_Angeles", "Pacific/Kiritimati"])
@pytest.mark.parametrize("text", ["9999-12-31 23:59 text", "2040-01-01 10:00 text", "9999年12月31日 23:59 x"])
def test_far_dates_are_refused_clearly(text: str, tz: str) -> None:
    with pytest.raises(WhenError) as err:
        parse_when(text, NOW, tz)
    assert err.value.code == "too_far"


@pytest.mark.parametrize("text", ["0001-01-01 00:00 text", "1900-05-05 10:00 text"])
def test_ancient_dates_are_in_the_past(text: str) -> None:
    with pytest.raises(WhenError) as err:
        parse_when(text, NOW, "Pacific/Kiritimati")
    assert err.value.code == "past"


def test_a_date_ten_years_ahead_is_fine() -> None:
    assert fires("2036-11-22 10:00 text", tz="America/Los_Angeles") == ["2036-11-22 10:00 Sat"]
