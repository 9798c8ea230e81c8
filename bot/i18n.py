"""zh-CN and en catalogs. The group's language decides; a missing key falls back to English, then to the key."""

from __future__ import annotations

import logging
import re
import string
import tomllib
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
FALLBACK_LANGUAGE = "en"
_DIR = Path(__file__).with_name("locales")

# Accepted spellings of a language, so "/lang 中文" or "/lang english" just work.
LANGUAGE_ALIASES = {
    "zh": "zh-CN",
    "zh-cn": "zh-CN",
    "cn": "zh-CN",
    "chinese": "zh-CN",
    "中文": "zh-CN",
    "简体中文": "zh-CN",
    "en": "en",
    "en-us": "en",
    "en-gb": "en",
    "english": "en",
    "英文": "en",
    "英语": "en",
}


def normalize_language(value: str) -> str | None:
    """Our language for a spelling or a client language code (zh-hans, en-US); None if we have none."""
    low = value.strip().lower()
    found = LANGUAGE_ALIASES.get(low)
    if found is None and "-" in low:
        found = LANGUAGE_ALIASES.get(low.split("-", 1)[0])
    return found


def _flatten(prefix: str, node: dict[str, Any], out: dict[str, str]) -> None:
    for key, value in node.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(full, value, out)
        else:
            out[full] = str(value)


@cache
def catalog(language: str) -> dict[str, str]:
    path = _DIR / f"{language}.toml"
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    _flatten("", tomllib.loads(path.read_text("utf-8")), out)
    return out


class _Keep(dict[str, Any]):
    """Leaves an unknown placeholder visible instead of raising: a translation slip must not crash a reply."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


_FORMATTER = string.Formatter()


def t(language: str, key: str, /, **params: Any) -> str:
    text = catalog(language).get(key)
    if text is None:
        text = catalog(FALLBACK_LANGUAGE).get(key)
        if text is None:
            log.warning("missing i18n key %s", key)
            return key
    if not params:
        return text
    try:
        out = _FORMATTER.vformat(text, (), _Keep(params))
        return _singular(out) if language == "en" else out
    except (ValueError, IndexError, KeyError):  # malformed format in a catalog: show the raw text
        log.warning("bad format in i18n key %s", key)
        return text


_ONE = re.compile(
    r"(?<![\d.,])1 (day|hour|minute|second|point|member|warning|time|make-up|message|vote|need|item)s\b"
)


def _singular(text: str) -> str:
    """English catalogs write the plural ("{streak} days"); a figure of 1 takes the singular."""
    return _ONE.sub(r"1 \1", text)


def tn(language: str, key: str, n: int, /, **params: Any) -> str:
    """`t` for a sentence about `n` things: the catalog's `<key>_one` when n is 1 and the language has
    one (English: "1 day" / "2 days"; Chinese needs none)."""
    one = f"{key}_one"
    if n == 1 and one in catalog(language):
        return t(language, one, n=n, **params)
    return t(language, key, n=n, **params)


def duration(language: str, delta: timedelta) -> str:
    """A length of time as people say it: 2 小时, 1 天 12 小时; 2 hours, 1 day 12 hours."""
    secs = int(delta.total_seconds())
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if secs >= size:
            parts.append(tn(language, f"units.{unit}", secs // size))
            secs %= size
        if len(parts) == 2:
            break  # "1 天 2 小时" is precise enough for a mute
    return " ".join(parts) or tn(language, "units.second", 0)


def missing_keys() -> dict[str, set[str]]:
    """Keys present in one catalog and absent from another, per language (a test keeps this empty)."""
    all_keys = set().union(*(catalog(lang).keys() for lang in LANGUAGES))
    # a singular form (`*_one`) is a language's own: Chinese has none
    return {
        lang: {k for k in all_keys - catalog(lang).keys() if not k.endswith("_one")} for lang in LANGUAGES
    }
