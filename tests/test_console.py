"""The console adapter's script contract: directives, JSONL records, deterministic replay, errors by line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adapters.console.session import run_script
from bot.actions import Button, keyboard
from bot.app import App
from bot.commands import CommandSpec
from bot.context import Context
from bot.events import ButtonPressed
from bot.feature import Feature, JobFunc
from handlers import default_features
from storage.jobs import JobRecord

ROOT = Path(__file__).resolve().parents[1]


class Poll(Feature):
    """A tiny feature with a button, a job and moderation-like actions, to exercise every record kind."""

    name = "poll"
    button_prefix = "poll"

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec("poll", self.poll, feature=self.name),
            CommandSpec("later", self.later, feature=self.name),
            CommandSpec("hush", self.hush, feature=self.name),
        ]

    def jobs(self) -> dict[str, JobFunc]:
        return {"remind": self.remind}

    async def poll(self, ctx: Context, _args: Any) -> None:
        await ctx.send(
            "Tea or coffee?", keyboard([Button("Tea", "poll:tea"), Button("Coffee", "poll:coffee")])
        )

    async def on_button(self, ctx: Context, event: ButtonPressed, payload: str) -> None:
        await ctx.answer_button(f"{event.user.name} chose {payload}")

    async def later(self, ctx: Context, _args: Any) -> None:
        run_at = ctx.now().replace(minute=0, second=0) + __import__("datetime").timedelta(hours=2)
        await ctx.app.scheduler.add(
            JobRecord(
                f"remind:{ctx.group.id}", "poll.remind", "date", {"run_at": run_at.isoformat()}, ctx.group.id
            )
        )
        await ctx.reply("scheduled")

    async def remind(self, app: App, ctx: Context | None, job: JobRecord) -> None:
        assert ctx is not None
        await ctx.send(f"reminder at {ctx.now().astimezone(ctx.zone).strftime('%H:%M')}")

    async def hush(self, ctx: Context, _args: Any) -> None:
        assert ctx.event is not None
        await ctx.delete(getattr(ctx.event, "message_id", ""))
        await ctx.mute(ctx.event.user.user_id, ctx.now() + __import__("datetime").timedelta(hours=1))
        await ctx.dm(ctx.event.user.user_id, "you were muted")


def features() -> list[Feature]:
    return [Poll(), *default_features()]


SCRIPT = """
# a comment, then a blank line

@clock 2026-11-22T09:00:00+08:00
@group demo
@join alice
@admin carol
alice: hi
alice: /poll
@press alice Coffee
alice: /hush
carol: /later
@advance 3h
@leave alice
"""


async def play(script: str, tmp_path: Path, name: str = "s.db") -> tuple[int, str]:
    out = io.StringIO()
    code = await run_script(
        script.splitlines(), out, db_url=f"sqlite:///{tmp_path / name}", jsonl=True, features=features
    )
    return code, out.getvalue()


async def test_jsonl_records_follow_the_contract(tmp_path: Path) -> None:
    code, text = await play(SCRIPT, tmp_path)
    assert code == 0
    records = [json.loads(line) for line in text.splitlines()]
    by_kind: dict[str, dict[str, Any]] = {}
    for r in records:  # the first record of each kind
        by_kind.setdefault(r.get("event") or r.get("action"), r)
    assert by_kind["join"] == {"event": "join", "group": "demo", "user": "alice"}
    assert {"event": "message", "group": "demo", "user": "alice", "message_id": 2, "text": "hi"} in records
    assert by_kind["send"]["buttons"] == ["Tea", "Coffee"] and by_kind["send"]["text"] == "Tea or coffee?"
    press = by_kind["press"]
    assert press["button"] == "poll:coffee" and press["message_id"] == by_kind["send"]["message_id"]
    assert by_kind["answer_button"]["text"] == "alice chose coffee"
    hush_id = next(r["message_id"] for r in records if r.get("text") == "/hush")
    assert by_kind["delete"] == {"action": "delete", "group": "demo", "message_id": hush_id}
    assert by_kind["mute"] == {
        "action": "mute",
        "group": "demo",
        "user": "alice",
        "until": "2026-11-22T10:00:00+08:00",
    }
    assert by_kind["dm"]["user"] == "alice" and by_kind["dm"]["text"] == "you were muted"
    assert by_kind["reply"]["text"] == "scheduled" and by_kind["reply"]["reply_to"] == next(
        r["message_id"] for r in records if r.get("text") == "/later"
    )
    assert any(r.get("text") == "reminder at 11:00" for r in records)  # fired on the way through @advance
    assert records[-1] == {"event": "leave", "group": "demo", "user": "alice"}


async def test_same_script_same_output(tmp_path: Path) -> None:
    first = await play(SCRIPT, tmp_path, "a.db")
    second = await play(SCRIPT, tmp_path, "b.db")
    assert first == second and first[0] == 0


@pytest.mark.parametrize(
    ("script", "line", "message"),
    [
        ("alice: hi\n@frobnicate now", 2, "unknown directive @frobnicate"),
        ("# c\n\nthis line has no speaker", 3, "expected 'name: text'"),
        ("@press alice Nope", 1, "no bot message"),
        ("@advance soon", 1, "not a duration"),
        ("@clock yesterday", 1, "@clock"),
    ],
)
async def test_a_bad_line_stops_the_script_with_its_number(
    tmp_path: Path, capsys, script: str, line: int, message: str
) -> None:  # type: ignore[no-untyped-def]
    code, _ = await play(script, tmp_path)
    err = capsys.readouterr().err
    assert code == 2 and f"line {line}:" in err and message in err


async def test_redeliver_and_restart(tmp_path: Path) -> None:
    script = "@admin carol\ncarol: /lang en\n@redeliver\n@restart\n@redeliver\nalice: /help\n"
    code, text = await play(script, tmp_path)
    replies = [r["text"] for r in map(json.loads, text.splitlines()) if r.get("action") == "reply"]
    assert code == 0
    assert replies[0] == "This group's language is now English."
    assert len(replies) == 2 and replies[1].startswith("Commands you can use")  # no second /lang answer


def _run_main(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_TOKEN", "DISCORD_TOKEN")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )


def test_main_console_script_jsonl_is_deterministic(tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text(
        "@admin carol\nalice: /help\ncarol: /set timezone Asia/Tokyo\ncarol: /settings\n", "utf-8"
    )
    runs = [_run_main("console", "--script", str(script), "--jsonl") for _ in range(2)]
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    replies = [json.loads(line) for line in runs[0].stdout.splitlines() if '"reply"' in line]
    assert replies[1]["text"] == "已将 timezone 设为 Asia/Tokyo。"


def test_main_demo_plays_in_chinese() -> None:
    result = _run_main("demo")
    assert result.returncode == 0, result.stderr
    assert "可用命令" in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_main_migrate_upgrades_the_configured_database(tmp_path: Path) -> None:
    from storage.migrate import head

    env = {"QUNBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}"}
    first = _run_main("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert f"schema version {head()}" in first.stdout
    assert "applied now: none" in _run_main("migrate", env=env).stdout


def _prompt(tmp_path: Path, typed: str) -> subprocess.CompletedProcess[str]:
    """The interactive console, with `typed` at its prompt."""
    proc = subprocess.run(
        [sys.executable, "main.py", "console", "--db", str(tmp_path / "i.db")],
        cwd=ROOT,
        input=typed,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_main_interactive_console_answers(tmp_path: Path) -> None:
    proc = _prompt(tmp_path, "/help\n/lang en\n/help\n")
    assert "可用命令" in proc.stdout and "Commands you can use" in proc.stdout


def test_bad_config_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    result = _run_main("--config", str(tmp_path / "nope.toml"), "migrate")
    assert (
        result.returncode == 2 and "configuration error" in result.stderr and "Traceback" not in result.stderr
    )


async def test_welcome_and_verification_in_a_console_script(tmp_path: Path) -> None:
    script = """
@clock 2026-11-22T09:00:00+08:00
@admin carol
carol: /verify button 3
@join alice
@press bob 我不是机器人
@press alice 我不是机器人
@advance 10s
@join mallory
@restart
@advance 3m
"""
    out = io.StringIO()
    code = await run_script(script.splitlines(), out, db_url=f"sqlite:///{tmp_path / 'w.db'}", jsonl=True)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    actions = [(r["action"], r.get("user")) for r in records if "action" in r]
    assert code == 0
    assert ("mute", "alice") in actions and ("unmute", "alice") in actions
    answers = [r["text"] for r in records if r.get("action") == "answer_button"]
    assert answers == ["这是别人的验证，不用帮忙点哦。", "验证通过，欢迎！"]
    greeting = next(
        r["text"] for r in records if r.get("action") == "send" and r["text"].startswith("欢迎 @alice 加入")
    )
    assert "「demo」" in greeting
    assert ("kick", "mallory") in actions and ("kick", "alice") not in actions  # timed out across a restart


async def test_a_reply_line_drives_a_report(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import io
    import json

    from adapters.console.session import run_script

    lines = ["@admin carol", "bob: 看我主页有惊喜", "@reply 1 dave: /report 广告"]
    out = io.StringIO()
    assert await run_script(lines, out, db_url=f"sqlite:///{tmp_path}/r.db", jsonl=True) == 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {
        "event": "message",
        "group": "demo",
        "user": "dave",
        "message_id": 2,
        "text": "/report 广告",
        "reply_to": 1,
    } in records
    assert any(r.get("action") == "send" and "1 位成员举报：广告" in r["text"] for r in records)


async def test_the_console_shows_message_ids_and_presses_a_label_without_its_emoji(tmp_path: Path) -> None:
    script = """
@clock 2026-11-22T09:00:00+08:00
alice: 签到
@press dave 我也签到
"""
    buffer = io.StringIO()
    code = await run_script(script.splitlines(), buffer, db_url=f"sqlite:///{tmp_path / 'p.db'}")
    out = buffer.getvalue()
    assert code == 0
    assert "[demo] alice #1: 签到" in out  # the id @reply needs, without guessing
    assert "dave presses [✅ 我也签到]" in out


def test_the_prompt_says_what_is_wrong_without_a_line_number(tmp_path: Path) -> None:
    proc = _prompt(tmp_path, "hello\n@press me nothing\n")
    assert "(#" in proc.stdout  # the typed message's id
    assert "@press: no bot message" in proc.stdout and "line 2" not in proc.stdout


async def test_files_in_the_console_attach_a_list_and_print_the_chart_paths(tmp_path: Path) -> None:
    """`@attach` sends a local file with a message; a file the bot sends is written and its path shown."""
    listing = tmp_path / "words.txt"
    listing.write_text("办证\n代开发票\n", encoding="utf-8")
    script = [
        "@admin carol",
        f"@attach {listing} carol: /filter import force",
        "alice: 大家好，今天聊点什么",
        "carol: /stats",
    ]
    out = io.StringIO()
    code = await run_script(script, out, db_url=f"sqlite:///{tmp_path / 'c.db'}", jsonl=True)
    assert code == 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert any("2" in str(r.get("text", "")) and "导入" in str(r.get("text", "")) for r in records)
    files = [r for r in records if r.get("action") == "file"]
    assert [f["name"] for f in files] == ["peak-hours.png", "daily.png"]
    assert all(Path(f["path"]).read_bytes().startswith(b"\x89PNG") for f in files)
