"""Both catalogs hold every key; missing keys fall back to English, then to the key itself."""

from __future__ import annotations

from bot import i18n
from bot.i18n import LANGUAGES, catalog, missing_keys, normalize_language, t
from config.group_settings import SECTIONS
from handlers import default_features


def test_no_key_is_missing_from_any_catalog() -> None:
    missing = missing_keys()
    assert missing == {lang: set() for lang in LANGUAGES}, f"keys missing per catalog: {missing}"


def test_every_command_has_help_and_usage_in_both_languages() -> None:
    for feature in default_features():
        for spec in feature.commands():
            for lang in LANGUAGES:
                assert spec.help_key in catalog(lang), (lang, spec.help_key)
                assert spec.usage_key in catalog(lang), (lang, spec.usage_key)


def test_every_settings_section_has_a_title() -> None:
    for lang in LANGUAGES:
        for section in (*SECTIONS, "general"):
            assert f"settings.section.{section}" in catalog(lang)


def test_fallback_to_english_then_key(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real = i18n.catalog

    def fake(language: str) -> dict[str, str]:
        if language == "zh-CN":
            return {"only.zh": "中文"}
        return {"only.en": "English {x}"} if language == "en" else real(language)

    monkeypatch.setattr(i18n, "catalog", fake)
    assert t("zh-CN", "only.zh") == "中文"
    assert t("zh-CN", "only.en", x=1) == "English 1"
    assert t("zh-CN", "nowhere.at.all") == "nowhere.at.all"


def test_formatting_never_raises() -> None:
    assert (
        t("en", "common.unknown_command")
        == "Unknown command /{name}. Send /help to see the commands you can use."
    )
    assert "/x" in t("en", "common.unknown_command", name="x", extra="ignored")


def test_language_aliases() -> None:
    assert normalize_language("中文") == "zh-CN"
    assert normalize_language("ZH") == "zh-CN"
    assert normalize_language("English") == "en"
    assert normalize_language("fr") is None
