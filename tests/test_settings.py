"""Group settings (model and chat commands) and process settings (environment over TOML)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from config.group_settings import GroupSettings, all_keys, apply_override, from_overrides
from config.settings import load_settings
from tests.helpers import Harness


def test_defaults() -> None:
    s = GroupSettings()
    assert s.language == "zh-CN" and s.timezone == "Asia/Shanghai"
    assert s.needs.response_hours == 48 and s.checkin.base_points == 10 and s.welcome.verify_minutes == 5


def test_override_validates_and_stores_typed_values() -> None:
    settings, stored = apply_override({}, "welcome.clean", "关")
    assert settings.welcome.clean is False and stored == {"welcome": {"clean": False}}
    settings, stored = apply_override(stored, "checkin.base_points", "15")
    assert stored == {"welcome": {"clean": False}, "checkin": {"base_points": 15}}
    for key, bad in [
        ("checkin.base_points", "-1"),
        ("checkin.base_points", "many"),
        ("welcome.verify", "captcha"),
        ("timezone", "Mars/Olympus"),
        ("timezone", "../../etc/passwd"),
        ("language", "fr"),
    ]:
        with pytest.raises(ValidationError):
            apply_override({}, key, bad)


def test_stale_stored_values_do_not_break_a_group() -> None:
    s = from_overrides({"language": "en", "timezone": "Not/AZone", "bogus": 1})
    assert s.language == "en" and s.timezone == "Asia/Shanghai"


def test_keys_follow_the_features_in_the_build() -> None:
    assert all_keys([]) == ["language", "timezone"]
    assert "checkin.base_points" in all_keys(["checkin"])
    assert not any(k.startswith("welcome.") for k in all_keys(["checkin"]))


async def test_set_and_settings_commands(db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(db).start()
    assert await h.say("carol", "/set timezone Asia/Tokyo", admin=True) == ["已将 timezone 设为 Asia/Tokyo。"]
    [shown] = await h.say("carol", "/settings", admin=True)
    assert "timezone = Asia/Tokyo" in shown and "language = zh-CN" in shown
    [bad] = await h.say("carol", "/set timezone Mars/Olympus", admin=True)
    assert "Mars/Olympus" in bad and "Asia/Shanghai" in bad  # names the bad value and what is allowed
    [unknown] = await h.say("carol", "/set colour blue", admin=True)
    assert "colour" in unknown and "/settings" in unknown  # names the bad key and where the keys are
    [usage] = await h.say("carol", "/set", admin=True)
    assert usage.startswith("用法：/set <设置项> <值>")
    await h.restart()  # settings survive a restart
    [shown] = await h.say("carol", "/settings", admin=True)
    assert "timezone = Asia/Tokyo" in shown
    await h.stop()


async def test_non_admin_changes_nothing(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    assert await h.say("mallory", "/set language en") == ["/set 仅限管理员使用。"]
    assert await h.say("mallory", "/lang en") == ["/lang 仅限管理员使用。"]
    assert await h.say("mallory", "/settings") == ["/settings 仅限管理员使用。"]
    assert (await h.say("alice", "/help"))[0].startswith("可用命令")
    await h.stop()


async def test_admin_of_one_group_cannot_touch_another(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    await h.say("carol", "/lang en", admin=True, chat_id="g1")
    assert await h.say("carol", "/lang en", chat_id="g2") == ["/lang 仅限管理员使用。"]
    assert (await h.say("alice", "/help", chat_id="g2"))[0].startswith("可用命令")
    await h.stop()


async def test_lang_command(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    assert await h.say("carol", "/lang", admin=True) == [
        "本群当前语言：简体中文。用 /lang zh 或 /lang en 切换。"
    ]
    assert await h.say("carol", "/lang english", admin=True) == ["This group's language is now English."]
    [bad] = await h.say("carol", "/lang klingon", admin=True)
    assert bad.startswith("Unsupported language “klingon”") and "zh | en" in bad
    assert await h.say("carol", "/set language zh", admin=True) == ["本群语言已切换为简体中文。"]
    await h.stop()


async def test_help_lists_only_what_the_caller_may_use(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    h = await Harness(sqlite_db).start()
    [member] = await h.say("alice", "/help")
    [admin] = await h.say("carol", "帮助", admin=True)
    assert "/help" in member and "/set" not in member and "管理员命令" not in member
    assert "/set" in admin and "/settings" in admin and "管理员命令" in admin
    await h.stop()


def test_environment_wins_over_toml(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "qunbot.toml"
    cfg.write_text('telegram_token = "from-file"\ndatabase_url = "sqlite:///file.db"\nlog_level = "debug"\n')
    monkeypatch.delenv("TELEGRAM_TOKEN", raising=False)
    monkeypatch.delenv("QUNBOT_DATABASE_URL", raising=False)
    s = load_settings(cfg)
    assert (s.telegram_token, s.database_url, s.log_level) == ("from-file", "sqlite:///file.db", "DEBUG")
    monkeypatch.setenv("TELEGRAM_TOKEN", "from-env")
    monkeypatch.setenv("QUNBOT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    s = load_settings(cfg)
    assert s.telegram_token == "from-env" and s.database_url.startswith("postgresql://")
    assert load_settings().database_url.startswith("postgresql://")


def test_bad_process_settings_are_named(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QUNBOT_DATABASE_URL", "mysql://nope")
    with pytest.raises(ValidationError, match="database_url"):
        load_settings()
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.toml")


def test_the_old_reports_section_is_read_as_the_digest() -> None:
    from config.group_settings import from_overrides

    s = from_overrides({"reports": {"weekly_day": "fri", "hour": 18, "enabled": False}, "language": "en"})
    assert (s.digest.day, s.digest.hour, s.digest.target, s.language) == ("fri", 18, "off", "en")
