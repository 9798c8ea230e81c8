"""zh-CN and en catalogs. The group's language decides; a missing key falls back to English, then to the key."""

from __future__ import annotations

import logging
import string
import tomllib
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
        return _FORMATTER.vformat(text, (), _Keep(params))
    except (ValueError, IndexError, KeyError):  # malformed format in a catalog: show the raw text
        log.warning("bad format in i18n key %s", key)
        return text


def missing_keys() -> dict[str, set[str]]:
    """Keys present in one catalog and absent from another, per language (a test keeps this empty)."""
    all_keys = set().union(*(catalog(lang).keys() for lang in LANGUAGES))
    return {lang: all_keys - catalog(lang).keys() for lang in LANGUAGES}
