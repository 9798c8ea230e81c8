"""Serving a fake platform API on 127.0.0.1 at a free port."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def serve(route: str, handler: Handler) -> tuple[web.AppRunner, str]:
    """Start an aiohttp app answering every method on `route`; returns its runner and base URL."""
    app = web.Application()
    app.router.add_route("*", route, handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"
