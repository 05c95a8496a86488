"""``medlytt serve``: run the application and its HTTP server until SIGTERM or SIGINT.

On a signal the server stops accepting requests, gateways stop, plugins finish the
events already queued to them, shutdown hooks run and the journal writes its last batch;
then the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from .app import Medlytt
from .config import Config
from .http_server import make_runner
from .web import build_web_app, plugin_routes

log = logging.getLogger(__name__)


async def serve(config: Config, *, announce: bool = True) -> None:
    """Start Medlytt and serve until a termination signal arrives."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    app = Medlytt(config)
    await app.start()
    runner: web.AppRunner | None = None
    try:
        web_app = build_web_app(app, await plugin_routes(app))
        runner = make_runner(web_app)
        await runner.setup()
        site = web.TCPSite(runner, config.server.host, config.server.port)
        await site.start()
        address = _address(runner, config)
        if announce:
            mode = " (DEMO: simulated contact center)" if app.demo else ""
            print(f"Medlytt serving on {address}{mode}", flush=True)
            print(f"  metrics: {address}/metrics   API: {address}/api", flush=True)
        log.info("serving on %s", address)
        await stop.wait()
        log.info("stopping")
    finally:
        if runner is not None:
            await runner.cleanup()
        await app.stop()


def _address(runner: web.AppRunner, config: Config) -> str:
    for sockname in runner.addresses:
        host, port = sockname[0], sockname[1]
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"
    return f"http://{config.server.host}:{config.server.port}"
