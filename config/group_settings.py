"""Per-group settings: defaults live here, only an admin's changes are stored (per group, in the database)."""

from __future__ import annotations

import re
import typing
from functools import cache
from typing import Annotated, Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo, available_timezones

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, normalize_language
from bot.parsing import parse_int

DEFAULT_LEVEL_COUNT = 4  # the catalogs name four levels (points.level.0-3); more are "Lv.5", …
_TRUE = {"on", "true", "yes", "y", "1", "开", "开启", "打开", "是", "启用"}
_FALSE = {"off", "false", "no", "n", "0", "关", "关闭", "否", "停用", "禁用"}


def _bool(value: Any) -> Any:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    return value


def _language(value: Any) -> Any:
    if isinstance(value, str):
        return normalize_language(value) or value
    return value


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def _timezone(value: str) -> str:
    """Only names from the tz database: a file path or a 100 KB string never reaches ZoneInfo."""
    if value not in _timezones():
        raise ValueError("unknown timezone")
    ZoneInfo(value)
    return value


Flag = Annotated[bool, BeforeValidator(_bool)]
Timezone = Annotated[str, AfterValidator(_timezone)]
Language = Annotated[Literal["zh-CN", "en"], BeforeValidator(_language)]


class Section(BaseModel):
    """Frozen: one parsed settings object per group is shared by every event until an admin changes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class WelcomeSettings(Section):
    enabled: Flag = True
    send_in_dm: Flag = False
    clean: Flag = True
    verify: Literal["off", "button", "math"] = "off"
    verify_minutes: Annotated[int, Field(ge=1, le=60)] = 5
    verify_tries: Annotated[int, Field(ge=1, le=10)] = 3
    goodbye: Flag = False


class CheckinSettings(Section):
    enabled: Flag = True
    base_points: Annotated[int, Field(ge=0, le=10_000)] = 10
    streak_step: Annotated[int, Field(ge=0, le=1_000)] = 2
    streak_cap: Annotated[int, Field(ge=0, le=10_000)] = 20
    bonus_day7: Annotated[int, Field(ge=0, le=100_000)] = 50
    bonus_day30: Annotated[int, Field(ge=0, le=100_000)] = 200
    reminder_hour: Annotated[int, Field(ge=0, le=23)] = 20
    makeup_cost: Annotated[int, Field(ge=0, le=100_000)] = 30
    makeup_per_month: Annotated[int, Field(ge=0, le=31)] = 2


def _levels(value: str) -> str:
    parts = [p.strip() for p in value.replace("，", ",").split(",")]
    parsed = [parse_int(p, 0, 999_999_999) for p in parts]
    if any(n is None for n in parsed):
        raise ValueError("levels are whole numbers")
    numbers = [n for n in parsed if n is not None]
    if not 2 <= len(numbers) <= 10 or numbers[0] != 0 or numbers != sorted(set(numbers)):
        raise ValueError("levels start at 0 and go up")
    return ",".join(map(str, numbers))


def _level_names(value: str) -> str:
    names = [n.strip() for n in value.replace("，", ",").split(",")] if value.strip() else []
    if any(not n or len(n) > 20 for n in names):
        raise ValueError("level names are 1 to 20 characters")
    return ",".join(names)


class PointsSettings(Section):
    enabled: Flag = True
    per_message: Annotated[int, Field(ge=0, le=100)] = 1
    message_cooldown_seconds: Annotated[int, Field(ge=0, le=86_400)] = 60
    message_min_length: Annotated[int, Field(ge=0, le=1_000)] = 5
    task_points: Annotated[int, Field(ge=0, le=10_000)] = 20
    # Lifetime-earned thresholds of the levels, and their names (empty: the default names, for 4 levels).
    levels: Annotated[str, AfterValidator(_levels)] = "0,100,500,2000"
    level_names: Annotated[str, AfterValidator(_level_names)] = ""

    @model_validator(mode="after")
    def _names_match_levels(self) -> PointsSettings:
        if self.level_names and len(self.level_names.split(",")) != len(self.levels.split(",")):
            raise ValueError("one name per level")
        return self


def _ladder(value: str) -> str:
    from rules.ladder import format_ladder, parse_ladder

    return format_ladder(parse_ladder(value))


DetectorAction = Literal["off", "alert", "delete", "warn", "mute", "kick", "ban"]


class ModerationSettings(Section):
    enabled: Flag = True
    shadow: Flag = False  # the whole word list: log what would happen, do nothing
    pinyin: Literal["off", "shadow", "on"] = "off"  # match the list by sound (ban证, 扮证): shadow first
    segment_chars: Annotated[int, Field(ge=0, le=4)] = 2  # Chinese hits this short must be whole words
    warn_expiry_days: Annotated[int, Field(ge=1, le=365)] = 30
    # Warnings → step: 3 → mute 1 h; 5 → mute 24 h; 7 → kick (add ",9=ban" for a ban).
    ladder: Annotated[str, AfterValidator(_ladder)] = "3=mute:1h,5=mute:1d,7=kick"
    mute_minutes: Annotated[int, Field(ge=1, le=525_600)] = 60  # a "mute" rule or detector without its own
    links: DetectorAction = "off"
    invites: DetectorAction = "warn"
    contacts: DetectorAction = "warn"
    newcomer_links: DetectorAction = "delete"  # any link in a member's first hours
    newcomer_hours: Annotated[int, Field(ge=0, le=720)] = 24
    flood_messages: Annotated[int, Field(ge=0, le=100)] = 8  # 0: off
    flood_seconds: Annotated[int, Field(ge=1, le=3600)] = 10
    flood_mute_minutes: Annotated[int, Field(ge=1, le=10_080)] = 10
    repeats: Annotated[int, Field(ge=0, le=50)] = 3  # the same text this often in 10 minutes; 0: off
    mass_mentions: Annotated[int, Field(ge=0, le=100)] = 6  # 0: off
    trusted_level: Annotated[int, Field(ge=0, le=10)] = (
        0  # members from this level (1 = first) are exempt; 0: none
    )
    report_threshold: Annotated[int, Field(ge=1, le=50)] = 3
    report_cooldown_seconds: Annotated[int, Field(ge=0, le=86_400)] = 60


class NeedsSettings(Section):
    enabled: Flag = True
    response_hours: Annotated[int, Field(ge=1, le=720)] = 48  # the first answer is due within this
    min_member_hours: Annotated[int, Field(ge=0, le=720)] = 24  # younger members' votes do not count
    per_day: Annotated[int, Field(ge=1, le=100)] = 3  # needs a member may submit per group day
    min_length: Annotated[int, Field(ge=1, le=200)] = 6
    max_length: Annotated[int, Field(ge=20, le=2000)] = 500
    self_vote: Flag = True  # the submitter's own vote counts (cast on submission)
    # duplicate suggestion threshold (0-100); 80 separates tests/data/need_pairs.tsv (see tests/test_needs.py)
    similar: Annotated[int, Field(ge=50, le=100)] = 80
    submit_points: Annotated[int, Field(ge=0, le=1000)] = 5  # once a day per member
    accepted_points: Annotated[int, Field(ge=0, le=10_000)] = 20  # to the submitter, when accepted
    vote_points: Annotated[int, Field(ge=0, le=100)] = 0  # to the submitter, per vote received
    vote_points_cap: Annotated[int, Field(ge=0, le=10_000)] = 20  # paid votes per need


class LifecycleSettings(Section):
    """新人 → 活跃 → 沉默 → 流失: the stage thresholds, in days."""

    new_days: Annotated[int, Field(ge=1, le=90)] = 7
    silent_days: Annotated[int, Field(ge=1, le=180)] = 7
    lost_days: Annotated[int, Field(ge=2, le=365)] = 30

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleSettings:
        if self.lost_days <= self.silent_days:
            raise ValueError("lifecycle_order")
        return self


_CLOCK = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")


def _quiet(value: str) -> str:
    """`22:00-08:00` (across midnight allowed) or `off`; stored as HH:MM-HH:MM."""
    text = value.strip().lower().replace("—", "-").replace("–", "-").replace("~", "-").replace("：", ":")
    if text in _FALSE or text == "none":
        return "off"
    start, sep, end = text.partition("-")
    times = [_CLOCK.match(x.strip()) for x in (start, end)] if sep else []
    if len(times) != 2 or not all(times):
        raise ValueError("quiet hours look like 22:00-08:00, or off")
    parts = [(int(m.group(1)), int(m.group(2))) for m in times if m]
    if any(h > 23 or mi > 59 for h, mi in parts) or parts[0] == parts[1]:
        raise ValueError("quiet hours look like 22:00-08:00, or off")
    return "-".join(f"{h:02d}:{mi:02d}" for h, mi in parts)


def in_quiet(quiet: str, hour: int, minute: int = 0) -> bool:
    """Whether a local time falls inside quiet hours (`off`: never)."""
    if quiet == "off":
        return False
    start, end = (int(a) * 60 + int(b) for a, b in (x.split(":") for x in quiet.split("-")))
    now = hour * 60 + minute
    return start <= now < end if start < end else now >= start or now < end


class RecallSettings(Section):
    """Dormant-member recall (沉默召回): off until an operator turns it on."""

    enabled: Flag = False
    hour: Annotated[int, Field(ge=0, le=23)] = 20  # the daily scan, group time
    quiet: Annotated[str, AfterValidator(_quiet)] = "22:00-08:00"  # no nudge inside these hours
    every_days: Annotated[int, Field(ge=1, le=90)] = 7  # at most one nudge per member this often
    max_per_episode: Annotated[int, Field(ge=1, le=10)] = 3  # per silent episode
    holdout_percent: Annotated[int, Field(ge=0, le=50)] = 10  # deliberately not nudged, to measure
    mentions_per_message: Annotated[int, Field(ge=1, le=20)] = 10  # in the one group message a day
    max_per_day: Annotated[int, Field(ge=1, le=20_000)] = 5_000  # nudges a scan sends at most
    return_days: Annotated[int, Field(ge=1, le=30)] = 7  # active within this after a nudge: returned
    gift_points: Annotated[int, Field(ge=0, le=100_000)] = 20  # the return gift (回归礼包)
    lost_action: Literal["none", "role", "kick"] = "none"
    lost_role: Annotated[str, Field(min_length=1, max_length=100)] = "inactive"
    lost_grace_days: Annotated[int, Field(ge=1, le=30)] = 3  # between the notice and the action

    @model_validator(mode="after")
    def _scan_outside_quiet(self) -> RecallSettings:
        if in_quiet(self.quiet, self.hour):
            raise ValueError("scan_in_quiet")
        return self


class FaqSettings(Section):
    """Saved answers; `auto` answers members' questions that match one closely enough."""

    auto: Flag = True
    threshold: Annotated[int, Field(ge=70, le=100)] = 85  # 0-100 similarity; below it the bot stays quiet
    cooldown_minutes: Annotated[int, Field(ge=0, le=1440)] = 10  # one entry is not repeated sooner in a chat


class CampaignSettings(Section):
    enabled: Flag = True
    grace_minutes: Annotated[int, Field(ge=0, le=1440)] = 60  # a fire missed by up to this is sent late
    max_per_group: Annotated[int, Field(ge=1, le=500)] = 50
    min_interval_minutes: Annotated[int, Field(ge=1, le=1440)] = 10  # a typo cannot flood the group


class DigestSettings(Section):
    """The weekly health digest (社群健康度报告) and /stats."""

    day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"  # group time
    hour: Annotated[int, Field(ge=0, le=23)] = 9
    target: Literal["log", "group", "off"] = "log"  # the admin log (the group until one is set), or off
    public_stats: Flag = False  # members may ask /stats for a short public version


class GroupSettings(Section):
    """The top-level keys (`language`, `timezone`) apply everywhere; each section belongs to one feature."""

    language: Language = DEFAULT_LANGUAGE  # type: ignore[assignment]
    timezone: Timezone = "Asia/Shanghai"
    welcome: WelcomeSettings = WelcomeSettings()
    checkin: CheckinSettings = CheckinSettings()
    points: PointsSettings = PointsSettings()
    moderation: ModerationSettings = ModerationSettings()
    needs: NeedsSettings = NeedsSettings()
    lifecycle: LifecycleSettings = LifecycleSettings()
    recall: RecallSettings = RecallSettings()
    campaigns: CampaignSettings = CampaignSettings()
    faq: FaqSettings = FaqSettings()
    digest: DigestSettings = DigestSettings()


GENERAL_KEYS = ("language", "timezone")
SECTIONS: tuple[str, ...] = tuple(
    name
    for name, f in GroupSettings.model_fields.items()
    if isinstance(f.annotation, type) and issubclass(f.annotation, Section)
)


def all_keys(sections: typing.Iterable[str] | None = None) -> list[str]:
    """Dotted keys an admin may `/set`, limited to the given sections (the features this build runs)."""
    keys = list(GENERAL_KEYS)
    for section in SECTIONS if sections is None else [s for s in SECTIONS if s in set(sections)]:
        model = GroupSettings.model_fields[section].annotation
        keys += [f"{section}.{name}" for name in model.model_fields]  # type: ignore[union-attr]
    return keys


def field_info(key: str) -> Any:
    if "." in key:
        section, name = key.split(".", 1)
        model = GroupSettings.model_fields[section].annotation
        return model.model_fields[name]  # type: ignore[union-attr]
    return GroupSettings.model_fields[key]


def allowed_values(key: str) -> tuple[str, dict[str, Any]]:
    """How to describe the acceptable values of a key: an i18n key under `settings.allowed.` and its params."""
    if key in ("timezone", "points.levels", "points.level_names", "moderation.ladder", "recall.quiet"):
        return key.rsplit(".", 1)[-1], {}
    info = field_info(key)
    ann = info.annotation
    if get_origin(ann) is Literal:
        return "choice", {"choices": " | ".join(map(str, get_args(ann)))}
    if ann is bool:
        return "flag", {}
    if ann is int:
        lo = next((m.ge for m in info.metadata if isinstance(m, Ge)), None)
        hi = next((m.le for m in info.metadata if isinstance(m, Le)), None)
        return "int_range", {"lo": lo, "hi": hi}
    return "text", {}


def get_value(settings: GroupSettings, key: str) -> Any:
    node: Any = settings
    for part in key.split("."):
        node = getattr(node, part)
    return node


CONFLICTS = ("lifecycle_order", "scan_in_quiet")  # what a whole section refuses (i18n settings.conflict.*)


def conflict_of(exc: ValidationError) -> str | None:
    """The code of a section-level refusal (two settings that cannot hold together), if that is why."""
    for err in exc.errors():
        cause = str((err.get("ctx") or {}).get("error", ""))
        if cause in CONFLICTS:
            return cause
    return None


def apply_override(overrides: dict[str, Any], key: str, raw: str) -> tuple[GroupSettings, dict[str, Any]]:
    """Validate `key = raw` on top of stored overrides; returns the new settings and overrides or raises."""
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in overrides.items()}
    if "." in key:
        section, name = key.split(".", 1)
        merged.setdefault(section, {})[name] = raw
    else:
        merged[key] = raw
    settings = GroupSettings.model_validate(merged)
    # Store the validated (typed) value, not the raw text.
    value = get_value(settings, key)
    if "." in key:
        section, name = key.split(".", 1)
        merged[section][name] = value
    else:
        merged[key] = value
    return settings, merged


def _renamed(overrides: dict[str, Any]) -> dict[str, Any]:
    """Sections renamed since they were stored: `reports` (weekly_day, hour, enabled) is now `digest`."""
    old = overrides.get("reports")
    if not isinstance(old, dict) or "digest" in overrides:
        return overrides
    digest: dict[str, Any] = {}
    if "weekly_day" in old:
        digest["day"] = old["weekly_day"]
    if "hour" in old:
        digest["hour"] = old["hour"]
    if old.get("enabled") is False:
        digest["target"] = "off"
    return {**{k: v for k, v in overrides.items() if k != "reports"}, "digest": digest}


def from_overrides(overrides: dict[str, Any]) -> GroupSettings:
    overrides = _renamed(overrides)
    try:
        return GroupSettings.model_validate(overrides)
    except ValidationError:
        # A stored value that a newer build no longer accepts must not take the group down: drop bad keys.
        clean: dict[str, Any] = {}
        for k, v in overrides.items():
            try:
                GroupSettings.model_validate({k: v})
                clean[k] = v
            except ValidationError:
                continue
        return GroupSettings.model_validate(clean)


LANGUAGE_CHOICES = " | ".join(LANGUAGES)
