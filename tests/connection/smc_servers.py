"""Loopback SMC servers for client tests: the REST login an SMC offers, plus whatever a test adds (listings that
answer 429 or 403, a status socket that sends scripted frames). Each runs on its own loop thread, on a free
127.0.0.1 port, started and stopped with ``with``."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable

from aiohttp import web

__all__ = ["LoopbackSmc"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LoopbackSmc:
    """``GET /api`` offering ``version``, login (cookie ``JSESSIONID=c00kie-value``), entry points (``elements``,
    ``logout`` and the ``routes`` added) and logout; ``routes`` maps (method, path below the version) to
    handlers."""

    cookie = "c00kie-value"

    def __init__(self, *, version: str = "7.2", routes: dict[tuple[str, str], Handler] | None = None) -> None:
        self.version = version
        self.routes = routes or {}
        self.loop = asyncio.new_event_loop()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/api", self._versions)
        app.router.add_post(f"/{self.version}/login", self._login)
        app.router.add_put(f"/{self.version}/logout", self._logout)
        app.router.add_get(f"/{self.version}/api", self._entry_points)
        for (method, path), handler in self.routes.items():
            app.router.add_route(method, f"/{self.version}/{path}", handler)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.SockSite(self.runner, self.sock).start()

    async def _versions(self, request: web.Request) -> web.Response:
        return web.json_response({"version": [{"rel": self.version, "href": f"{self.url}/{self.version}/api"}]})

    async def _login(self, request: web.Request) -> web.Response:
        response = web.json_response({})
        response.set_cookie("JSESSIONID", self.cookie)
        return response

    async def _logout(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _entry_points(self, request: web.Request) -> web.Response:
        rels = {"elements", "logout", *(path for _, path in self.routes)}
        points = [{"rel": rel, "href": f"{self.url}/{self.version}/{rel}", "method": "GET"} for rel in sorted(rels)]
        return web.json_response({"entry_point": points})

    def __enter__(self) -> LoopbackSmc:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
        self.sock.close()
