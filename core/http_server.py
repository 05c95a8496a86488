"""The HTTP server's own connection handling: error answers that repeat nothing, and no
connection held open by a client that sends nothing useful.

aiohttp answers a request it cannot parse (a header line over 8190 bytes, a bad request
line) with a text body that repeats the offending bytes, and logs the same bytes with a
traceback.  When that line is ``Authorization: Bearer <token>``, the token would appear in
the response and in Medlytt's log.  :class:`SafeRequestHandler` answers such requests with
``{"error": "bad request: ...", "status": 400}`` naming only what kind of fault it was,
and logs one line without the request's content.  Faults inside a route never get here:
they are the ``json_errors`` middleware's (medlytt.web).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import http_exceptions, web, web_protocol, web_server

log = logging.getLogger(__name__)

#: A connection that has not sent a whole request for this long is closed: an idle
#: keep-alive connection, and a client trickling a request head (aiohttp's default keeps
#: them an hour, so a few hundred slow clients could hold every connection).
IDLE_SECONDS = 15.0

#: What a client is told, by the kind of parse error (never the request's bytes).
REASONS: dict[type[BaseException], str] = {
    http_exceptions.LineTooLong: "a request or header line is too long",
    http_exceptions.BadStatusLine: "not an HTTP request line",
    http_exceptions.InvalidHeader: "a malformed header",
    http_exceptions.BadHttpMethod: "not an HTTP method",
    http_exceptions.TransferEncodingError: "a malformed body encoding",
    http_exceptions.ContentLengthError: "a malformed Content-Length",
}


def _reason(exc: BaseException | None) -> str:
    for kind, reason in REASONS.items():
        if isinstance(exc, kind):
            return reason
    return "a malformed request"


class SafeRequestHandler(web_protocol.RequestHandler):
    """aiohttp's connection handler, with error answers that repeat nothing sent."""

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            log.error("HTTP %d serving a request: %s", status, type(exc).__name__)
            body = json.dumps({"error": "internal error; see the Medlytt log", "status": status})
        else:
            reason = _reason(exc)
            log.warning("refused a request from %s: %s", request.remote, reason)
            body = json.dumps({"error": f"bad request: {reason}", "status": status})
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send an error answer")
        response = web.Response(status=status, text=body, content_type="application/json")
        response.force_close()
        return response


class SafeServer(web_server.Server):
    def __call__(self) -> SafeRequestHandler:
        return SafeRequestHandler(self, loop=self._loop, **self._kwargs)


class SafeAppRunner(web.AppRunner):
    """``web.AppRunner`` whose connections use :class:`SafeRequestHandler`."""

    async def _make_server(self) -> web_server.Server:
        server = await super()._make_server()
        server.__class__ = SafeServer  # same state; only the handler it creates differs
        return server


def make_runner(web_app: web.Application, *, idle_seconds: float = IDLE_SECONDS) -> SafeAppRunner:
    """The runner ``medlytt serve`` uses: safe error answers, idle connections closed."""
    return SafeAppRunner(
        web_app, access_log=None, handle_signals=False, keepalive_timeout=idle_seconds
    )
