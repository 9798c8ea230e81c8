"""`<when>` as operators write it, in Chinese or English, to an APScheduler trigger of the group's timezone.

    once       2026-12-01 20:00 · 12-01 20:00 · 明天 20:00 · tomorrow 8pm · in 2h · 2小时后
    repeating  每天 20:00 · daily 20:00 · 每周一 09:00 · mon 09:00 · 每月1号 10:00 · monthly 1 10:00 · every 3h
    cron       cron "0 20 * * 1-5"  (five fields; day of week as cron counts it: 0 or 7 is Sunday; a day of
               the month and a day of the week both given fire on either, as standard cron does)

`parse_when` reads the schedule at the start of a text and returns the rest (the post). Every pattern is
anchored and free of nested quantifiers, and the input is capped: linear in the input, whatever it is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import islice, pairwise
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import BaseCombiningTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.scheduler import build_trigger, cron_trigger
from storage.jobs import JobRecord

MAX_INPUT = 4096
# A one-off at most this many years ahead: year 9999 overflows once turned to UTC or moved by a day.
MAX_YEARS_AHEAD = 10
# How far ahead "does it ever fire?" looks: nine years hold a 29 February even across 2100.
NEVER_HORIZON = timedelta(days=366 * 9)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ZH_DAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "1": 0, "2": 1, "3": 2,
            "4": 3, "5": 4, "6": 5, "7": 6}  # fmt: skip
_EN_DAYS = {d: i for i, d in enumerate(WEEKDAYS)} | {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
    "tues": 1, "thur": 3, "thurs": 3,
}  # fmt: skip
_UNITS = {"m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
          "分钟": "minutes", "分": "minutes", "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours",
          "hours": "hours", "小时": "hours", "个小时": "hours", "d": "days", "day": "days", "days": "days",
          "天": "days"}  # fmt: skip

_TIME_EN = re.compile(r"([0-9]{1,2})(?::([0-9]{2}))?\s*(am|pm)?", re.I)
_TIME_ZH = re.compile(r"(早上|上午|中午|下午|晚上|凌晨)?\s*([0-9]{1,2})\s*(?:[:点])\s*(半|[0-9]{1,2})?\s*分?")
_DATE = re.compile(r"(?:([0-9]{4})[-/.年])?([0-9]{1,2})[-/.月]([0-9]{1,2})[日号]?")
_RELDAY = re.compile(r"(今天|明天|后天|today|tomorrow)", re.I)
_DAILY = re.compile(r"(每天|每日|daily|every\s+day)", re.I)
_WEEKLY_ZH = re.compile(r"每?(?:周|星期|礼拜)([一二三四五六日天1-7])")
_WEEKLY_EN = re.compile(r"(?:weekly\s+|every\s+)?([a-z]{3,9})((?:,[a-z]{3,9}){0,6})", re.I)
_MONTHLY = re.compile(r"(?:每月\s*([0-9]{1,2})\s*[号日]|monthly\s+([0-9]{1,2}))", re.I)
_IN = re.compile(r"in\s+([0-9]{1,4})\s*([a-z]+)", re.I)
_AFTER = re.compile(r"([0-9]{1,4})\s*(分钟|个小时|小时|天)后")
_EVERY = re.compile(r"(?:every\s+([0-9]{1,4})\s*([a-z]+)|每\s*([0-9]{1,4})\s*(分钟|个小时|小时|天))", re.I)
_CRON = re.compile(r"cron\s+[\"'“”‘’]([^\"'“”‘’]{1,100})[\"'“”‘’]", re.I)


class WhenError(ValueError):
    """What could not be read: `code` names the i18n text (campaign.when.<code>), `fragment` the part."""

    def __init__(self, code: str, fragment: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.fragment = fragment.strip()[:40]


@dataclass(frozen=True, slots=True)
class Schedule:
    """A trigger as the scheduler stores it (`JobRecord.trigger_type` / `trigger_args`), and its words."""

    kind: str  # date | interval | cron
    args: dict[str, Any] = field(default_factory=dict)
    words: tuple[str, ...] = ()  # (form, params...) for describe()

    def trigger(self) -> BaseTrigger:
        return build_trigger(JobRecord("", "", self.kind, self.args))  # type: ignore[arg-type]

    def fires(self, after: datetime, until: datetime | None = None) -> Iterator[datetime]:
        """Fire times after `after`, lazily (an interval of ten minutes has many). With `until`, none
        later, and the search for the next one stops there too: a cron with no such day ("0 0 31 4 *")
        otherwise walks month by month to the year 9999 (a third of a second) before saying so."""
        trigger, prev, now = self.trigger(), None, after
        if until is not None:
            _end_at(trigger, until)
        while (nxt := trigger.get_next_fire_time(prev, now)) is not None:
            if until is not None and nxt > until:
                return
            yield nxt
            prev, now = nxt, nxt + timedelta(microseconds=1)

    def ever_fires(self, after: datetime) -> bool:
        """Whether it fires at all after `after` (looked for within NEVER_HORIZON: bounded work)."""
        return next(self.fires(after, after + NEVER_HORIZON), None) is not None

    def next_fires(self, after: datetime, count: int) -> list[datetime]:
        return list(islice(self.fires(after), count))

    @property
    def repeats(self) -> bool:
        return self.kind != "date"


def _end_at(trigger: BaseTrigger, end: datetime) -> None:
    """Give a freshly built trigger an end date (APScheduler stops its search there)."""
    if isinstance(trigger, BaseCombiningTrigger):
        for part in trigger.triggers:
            _end_at(part, end)
    elif isinstance(trigger, CronTrigger | IntervalTrigger):
        trigger.end_date = end if trigger.end_date is None else min(trigger.end_date, end)


def normalize(text: str) -> str:
    """What the parser reads: width folded (２０：００ is 20:00), capped."""
    return unicodedata.normalize("NFKC", text[:MAX_INPUT]).replace("：", ":")


def _time_at(text: str, pos: int) -> tuple[time, int] | None:
    """A time of day at `pos` (after spaces): 20:00, 8pm, 8:30 pm, 晚上8点, 20点30分, 8点半."""
    while pos < len(text) and text[pos] == " ":
        pos += 1
    m = _TIME_ZH.match(text, pos)
    if m and ("点" in m.group(0) or m.group(1)):
        hour = int(m.group(2))
        minute = 30 if m.group(3) == "半" else int(m.group(3) or 0)
        if m.group(1) in ("下午", "晚上") and hour < 12:
            hour += 12
        if m.group(1) == "中午" and hour < 6:
            hour += 12
        if hour > 23 or minute > 59:
            raise WhenError("bad_time", m.group(0))
        return time(hour, minute), m.end()
    m = _TIME_EN.match(text, pos)
    if m and (m.group(2) is not None or m.group(3)):
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        ap = (m.group(3) or "").lower()
        if ap:
            if not 1 <= hour <= 12:
                raise WhenError("bad_time", m.group(0))
            hour = hour % 12 + (12 if ap == "pm" else 0)
        if hour > 23 or minute > 59:
            raise WhenError("bad_time", m.group(0))
        return time(hour, minute), m.end()
    return None


def _need_time(text: str, pos: int, form: str) -> tuple[time, int]:
    found = _time_at(text, pos)
    if found is None:
        raise WhenError("need_time", text[pos : pos + 20].strip() or form)
    return found


def _cron_dow(field_: str) -> str:
    """Cron's day-of-week field (0 or 7 = Sunday) in APScheduler's names: its numbers start at Monday."""
    days: set[int] = set()
    for part in field_.split(","):
        body, _, step_s = part.partition("/")
        step = int(step_s) if step_s.isascii() and step_s.isdigit() else (1 if not step_s else -1)
        if step < 1:
            raise WhenError("bad_cron", field_)
        if body == "*":
            lo, hi = 0, 6
        elif "-" in body:
            a, _, b = body.partition("-")
            lo, hi = _cron_day(a, field_), _cron_day(b, field_)
            if hi == 0 and b.strip() == "7":
                hi = 7
        else:
            lo = hi = _cron_day(body, field_)
            if step_s:
                hi = 6
        if lo > hi:
            raise WhenError("bad_cron", field_)
        days |= {d % 7 for d in range(lo, hi + 1, step)}
    if len(days) == 7:
        return "*"
    return ",".join(WEEKDAYS[(d - 1) % 7] for d in sorted(days, key=lambda d: (d - 1) % 7))


def _cron_day(token: str, whole: str) -> int:
    token = token.strip().lower()
    if token.isascii() and token.isdigit() and 0 <= int(token) <= 7:
        return int(token) % 7 if token != "7" else 0
    names = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
    if token[:3] in names:
        return names.index(token[:3])
    raise WhenError("bad_cron", whole)


def parse_when(raw: str, now: datetime, timezone: str) -> tuple[Schedule, str]:
    """The schedule at the start of `raw`, and the rest of the text as written (not width-folded: the
    post keeps its full-width colons). Raises WhenError."""
    original = raw.strip()[:MAX_INPUT]
    pieces = [normalize(ch) for ch in original]  # per character, so a position maps back
    text = "".join(pieces)
    schedule, rest = _parse(text, now, timezone)
    consumed, length = len(text) - len(rest), 0
    for i, piece in enumerate(pieces):
        if length >= consumed:
            return schedule, original[i:]
        length += len(piece)
    return schedule, ""


def _parse(text: str, now: datetime, timezone: str) -> tuple[Schedule, str]:
    low = text.lower()
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)

    def at_day(day: date, t: time, end: int, words: tuple[str, ...]) -> tuple[Schedule, str]:
        _near(day, local_now, text[:end])
        when = datetime.combine(day, t, zone)
        if when <= local_now:
            raise WhenError("past", text[:end])
        return Schedule("date", {"run_at": when.isoformat(), "timezone": timezone}, words), text[end:]

    if m := _CRON.match(text):
        fields = m.group(1).split()
        if len(fields) != 5:
            raise WhenError("bad_cron", m.group(1))
        minute, hour, day, month, dow = fields
        args: dict[str, Any] = {
            "minute": minute, "hour": hour, "day": day, "month": month, "day_of_week": _cron_dow(dow),
        }  # fmt: skip
        try:
            cron_trigger(timezone, args)
        except (ValueError, TypeError) as exc:
            raise WhenError("bad_cron", m.group(1)) from exc
        if not day.startswith("*") and not dow.startswith("*"):
            # "0 9 1 * 1": every 1st and every Monday, as cron reads it; unless no such day of the month
            # ever comes ("31" of "4,6,9,11"), when the weekdays alone fire it (and nothing has to walk
            # to the year 9999 to find the day never comes, at every fire)
            by_day = Schedule("cron", {**args, "day_of_week": "*", "timezone": timezone})
            if by_day.ever_fires(local_now):
                args["either_day"] = True
            else:
                args["day"] = "*"
        return Schedule("cron", {**args, "timezone": timezone}, ("cron", m.group(1))), text[m.end() :]
    if m := _IN.match(low):
        unit = _UNITS.get(m.group(2))
        if unit is None or int(m.group(1)) < 1:
            raise WhenError("unreadable", m.group(0))
        when = (local_now + timedelta(**{unit: int(m.group(1))})).replace(second=0, microsecond=0)
        return Schedule("date", {"run_at": when.isoformat(), "timezone": timezone}, ("once",)), text[
            m.end() :
        ]
    if m := _AFTER.match(text):
        when = local_now + timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
        run_at = when.replace(second=0, microsecond=0).isoformat()
        return Schedule("date", {"run_at": run_at, "timezone": timezone}, ("once",)), text[m.end() :]
    if m := _EVERY.match(low):
        count = int(m.group(1) or m.group(3))
        unit = _UNITS.get((m.group(2) or m.group(4) or "").lower())
        if unit is None or count < 1:
            raise WhenError("unreadable", m.group(0))
        start = local_now.replace(second=0, microsecond=0)
        args = {unit: count, "start": start.isoformat(), "timezone": timezone}
        return Schedule("interval", args, ("every", str(count), unit)), text[m.end() :]
    if m := _DAILY.match(low):
        t, end = _need_time(text, m.end(), "daily")
        args = {"hour": t.hour, "minute": t.minute, "timezone": timezone}
        return Schedule("cron", args, ("daily", f"{t:%H:%M}")), text[end:]
    if m := _MONTHLY.match(low):
        day = int(m.group(1) or m.group(2))
        if not 1 <= day <= 31:
            raise WhenError("bad_date", m.group(0))
        t, end = _need_time(text, m.end(), "monthly")
        args = {"day": day, "hour": t.hour, "minute": t.minute, "timezone": timezone}
        return Schedule("cron", args, ("monthly", str(day), f"{t:%H:%M}")), text[end:]
    if m := _WEEKLY_ZH.match(text):
        days = [_ZH_DAYS[m.group(1)]]
        end = m.end()
        while end < len(text):  # 每周一三五, 周一、周三
            ch = text[end]
            if ch in "、,":
                end += 1
                end += 1 if text.startswith("周", end) else 2 if text.startswith("星期", end) else 0
            elif ch in "一二三四五六日天":
                days.append(_ZH_DAYS[ch])
                end += 1
            else:
                break
        return _weekly(text, days, end, timezone)
    if m := _DATE.match(text):
        year = int(m.group(1)) if m.group(1) else local_now.year
        try:
            day = date(year, int(m.group(2)), int(m.group(3)))
        except ValueError as exc:
            raise WhenError("bad_date", m.group(0)) from exc
        t, end = _need_time(text, m.end(), "date")
        _near(day, local_now, text[m.start() : end])
        if not m.group(1) and datetime.combine(day, t, zone) <= local_now:
            day = day.replace(year=year + 1)  # 01-05 in December: next January
        return at_day(day, t, end, ("once",))
    if m := _RELDAY.match(low):
        offset = {"今天": 0, "today": 0, "明天": 1, "tomorrow": 1, "后天": 2}[m.group(1).lower()]
        t, end = _need_time(text, m.end(), m.group(1))
        return at_day(local_now.date() + timedelta(days=offset), t, end, ("once",))
    if (m := _WEEKLY_EN.match(low)) and m.group(1) in _EN_DAYS:
        names = [m.group(1), *[n for n in m.group(2).split(",") if n]]
        if any(n not in _EN_DAYS for n in names):
            raise WhenError("unreadable", m.group(0))
        return _weekly(text, [_EN_DAYS[n] for n in names], m.end(), timezone)
    raise WhenError("unreadable", text[:20])


def _near(day: date, local_now: datetime, fragment: str) -> None:
    """Refuse a one-off years away: 9999-12-31 overflows once turned to UTC (or moved a day by an
    event's encore), 0001-01-01 once turned back; either would answer an internal error."""
    if day.year < local_now.year - 1:
        raise WhenError("past", fragment)
    if day.year > local_now.year + MAX_YEARS_AHEAD:
        raise WhenError("too_far", fragment)


def _weekly(text: str, days: list[int], end: int, timezone: str) -> tuple[Schedule, str]:
    t, end = _need_time(text, end, "weekly")
    dow = ",".join(WEEKDAYS[d] for d in sorted(set(days)))
    args = {"day_of_week": dow, "hour": t.hour, "minute": t.minute, "timezone": timezone}
    return Schedule("cron", args, ("weekly", dow, f"{t:%H:%M}")), text[end:]


def min_gap(schedule: Schedule, after: datetime, samples: int = 6) -> timedelta | None:
    """The shortest time between consecutive fires among the next few (None: it fires at most once)."""
    fires = schedule.next_fires(after, samples)
    if len(fires) < 2:
        return None
    return min(b - a for a, b in pairwise(fires))
