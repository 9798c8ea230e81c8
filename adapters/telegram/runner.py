"""Builds and runs the python-telegram-bot Application around the adapter: polling, or a webhook."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlparse

import httpx
from telegram import Update
from telegram import error as tg_error
from telegram.ext import Application, TypeHandler

from adapters.telegram.adapter import ALLOWED_UPDATES, TelegramAdapter
from bot.app import App
from config.settings import Settings

log = logging.getLogger(__name__)


def api_root(base_url: str) -> str:
    """A local Bot API server's root, whether written as python-telegram-bot documents its base_url
    (`http://host:8081/bot`) or as the server's address (`http://host:8081`)."""
    return base_url.strip().rstrip("/").removesuffix("/bot").rstrip("/")


def build_application(token: str, base_url: str | None = None) -> Application:  # type: ignore[type-arg]
    builder = Application.builder().token(token).concurrent_updates(True)
    if base_url:
        root = api_root(base_url)
        builder = builder.base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
    return builder.build()


async def explain_rejection(token: str, base_url: str | None) -> str:
    """PTB reports a 404 to getMe as a rejected token; a 404 from a server of our own choosing means a
    wrong address. Ask once more, and say which it is."""
    root = api_root(base_url) if base_url else "https://api.telegram.org"
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            status = (await client.get(f"{root}/bot{token}/getMe")).status_code
    except httpx.HTTPError as exc:
        return f"the Bot API server at {root} could not be reached ({exc.__class__.__name__})"
    if status == 404:
        return (
            f"the Bot API server at {root} answered 404 Not Found to getMe: the API base URL is wrong, "
            "not the token (give the server's address, e.g. http://host:8081; a trailing /bot is accepted)"
        )
    return f"the token was rejected by the Bot API server at {root} (HTTP {status}): check TELEGRAM_TOKEN"


class TelegramRunner:
    """Start and stop by hand (not run_polling) so Telegram, Discord and the scheduler share one loop."""

    def __init__(self, app: App, settings: Settings, application: Application | None = None) -> None:  # type: ignore[type-arg]
        assert settings.telegram_token
        self.settings = settings
        self.application = application or build_application(
            settings.telegram_token, settings.telegram_api_base_url
        )
        self.adapter = TelegramAdapter(app, self.application.bot)
        self.application.add_handler(TypeHandler(Update, self.adapter.on_update))
        self.application.add_error_handler(self._on_error)
        app.outbox.register(self.adapter)

    async def _on_error(self, update: object, context: object) -> None:
        log.error("python-telegram-bot error on %r: %s", update, getattr(context, "error", None))

    async def start(self) -> None:
        application = self.application
        try:
            await application.initialize()
        except tg_error.InvalidToken as exc:
            assert self.settings.telegram_token
            reason = await explain_rejection(
                self.settings.telegram_token, self.settings.telegram_api_base_url
            )
            raise RuntimeError(reason) from exc
        await self.adapter.start()
        await application.start()
        assert application.updater is not None
        s = self.settings
        if s.telegram_webhook_url:
            secret = s.telegram_webhook_secret or secrets.token_urlsafe(32)
            path = urlparse(s.telegram_webhook_url).path.lstrip("/")
            await application.updater.start_webhook(
                listen=s.telegram_webhook_listen,
                port=s.telegram_webhook_port,
                url_path=path,
                webhook_url=s.telegram_webhook_url,
                secret_token=secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            log.info(
                "Telegram webhook on %s:%s → %s",
                s.telegram_webhook_listen,
                s.telegram_webhook_port,
                s.telegram_webhook_url,
            )
        else:
            await application.updater.start_polling(allowed_updates=ALLOWED_UPDATES, timeout=30)
            log.info("Telegram long polling as @%s", self.adapter.username)

    async def stop(self) -> None:
        application = self.application
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
