"""Qunbot's command line: run the bot, play console scripts, migrate the database, show the demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path

from config.settings import Settings, load_settings

DEMO_SCRIPT = Path(__file__).parent / "adapters" / "console" / "demo.txt"


def _db_url(db: str | None, settings: Settings) -> str:
    if db is None:
        return settings.database_url
    return db if "://" in db else f"sqlite:///{db}"


async def _console(args: argparse.Namespace, settings: Settings, lines: list[str] | None) -> int:
    from adapters.console.session import run_interactive, run_script

    if lines is None:
        return await run_interactive(_db_url(args.db, settings), files_dir=settings.files_dir)
    if args.db is not None:
        return await run_script(
            lines,
            sys.stdout,
            db_url=_db_url(args.db, settings),
            jsonl=args.jsonl,
            files_dir=settings.files_dir,
        )
    # A script gets a fresh database of its own, so the same script always gives the same output.
    with tempfile.TemporaryDirectory(prefix="qunbot-") as tmp:
        return await run_script(
            lines,
            sys.stdout,
            db_url=f"sqlite:///{tmp}/script.db",
            jsonl=args.jsonl,
            files_dir=settings.files_dir,
        )


async def _migrate(settings: Settings) -> int:
    from bot.clock import SystemClock, to_ms
    from storage.db import open_database
    from storage.migrate import current_version, head, migrate

    db = await open_database(settings.database_url)
    try:
        applied = await migrate(db, now_ms=to_ms(SystemClock().now()))
        version = await current_version(db)
    finally:
        await db.close()
    print(f"database at schema version {version} (latest {head()}); applied now: {applied or 'none'}")
    return 0


async def _demo(lines: list[str]) -> int:
    from adapters.console.session import run_script

    with tempfile.TemporaryDirectory(prefix="qunbot-demo-") as tmp:
        return await run_script(lines, sys.stdout, db_url=f"sqlite:///{tmp}/demo.db")


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    if settings.telegram_token or settings.discord_token:
        from adapters.runner import run_platforms

        return await run_platforms(settings)
    print("No TELEGRAM_TOKEN or DISCORD_TOKEN set: starting the console bot (type /help).")
    return await _console(argparse.Namespace(db=None, jsonl=False), settings, None)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qunbot", description=__doc__)
    p.add_argument("--config", help="a TOML file of settings (the environment wins over it)")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("run", help="run every adapter that has a token; the console when none has (the default)")
    c = sub.add_parser("console", help="the console adapter: interactive, or play a script")
    c.add_argument("--script", help="a console script to play")
    c.add_argument("--jsonl", action="store_true", help="one JSON object per line for every event and action")
    c.add_argument("--db", help="database file or URL (scripts default to a fresh temporary database)")
    sub.add_parser("migrate", help="upgrade the database schema in place")
    sub.add_parser("demo", help="play the bundled demo script (in Chinese) and exit")
    sub.add_parser("discord-sync", help="register the slash commands with Discord globally")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except Exception as exc:  # a bad config file or variable: say which, no traceback
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if args.command != "run" and args.command is not None:
        logging.getLogger().setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    try:
        if args.command == "console":
            lines = None
            if args.script is not None:
                path = Path(args.script)
                if not path.is_file():
                    print(f"no such script: {path}", file=sys.stderr)
                    return 2
                lines = path.read_text("utf-8").splitlines()
            return asyncio.run(_console(args, settings, lines))
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
        if args.command == "discord-sync":
            from adapters.runner import discord_sync

            return asyncio.run(discord_sync(settings))
        if args.command == "demo":
            return asyncio.run(_demo(DEMO_SCRIPT.read_text("utf-8").splitlines()))
        return asyncio.run(_run(settings, args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
