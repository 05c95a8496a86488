"""A thin client for the Asterisk REST Interface (ARI) on aiohttp.

Why our own: the ``ari`` package (ari-py) does not import on Python 3, and the maintained
alternatives wrap Swagger at runtime.  Medlytt needs few endpoints; a thin client over
aiohttp keeps every request explicit, gives each a timeout, maps Asterisk's error
statuses to :class:`AriError` with its reason, and is checked against the live
``/ari/api-docs`` of a real Asterisk by a contract test.

Credentials travel in an ``Authorization: Basic`` header, never in a URL (which would end
up in logs).  Every request path that was issued is recorded, once, in
:attr:`AriClient.issued` (a set of path templates: it stays small however long Medlytt
runs) so the contract test can check each one against the spec.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import msgspec

from .malformed import Reject, RejectLog
from .settings import AsteriskSettings

log = logging.getLogger(__name__)


EVENT_SOURCES = ("channel:", "bridge:")
"""What Medlytt's application listens to: every channel and every bridge (an empty
resource after the scheme means all of them), not ``subscribeAll``.

``subscribeAll`` also subscribes to every device state, and in Asterisk 22 closing such an
application's WebSocket can deadlock its session while device states change
(res_stasis_device_state, Asterisk issue #2170): the next WebSocket under the same name
then waits for ever, while other ARI requests still answer.  Reproduced against the
sandbox with tests/asterisk/asterisk_2170.py: a name reconnecting with ``subscribeAll``
under device-state churn hung at reconnection 9, 84 and 31 in three runs; with these
sources none of 1,000 hung.  Medlytt needs the events of channels outside Stasis (queue
legs' talk detection, hold, transfers) and of bridges; agents' device states it reads from
AMI (``QueueMemberStatus``).
"""


class AriError(RuntimeError):
    """An ARI request failed; carries the HTTP status and Asterisk's reason."""

    def __init__(self, method: str, path: str, status: int | None, reason: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        where = f"ARI {method} {path}"
        super().__init__(f"{where}: {status} {reason}" if status else f"{where}: {reason}")


class AriClient:
    """REST calls and the event WebSocket of one Asterisk."""

    def __init__(self, base_url: str, user: str, password: str, *, timeout: float = 5.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"asterisk.ari_url must be an http(s) URL, got {base_url!r}")
        if parts.username or parts.password:
            raise ValueError(
                "asterisk.ari_url must not contain credentials; use ari_user/ari_password"
            )
        self.base_url = base_url.rstrip("/")
        self.user = user
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        #: (method, path template as issued) of every request, for the contract test.
        self.issued: set[tuple[str, str]] = set()

    @classmethod
    def from_settings(cls, settings: AsteriskSettings) -> AriClient:
        """The client of one configured PBX (``[asterisk]`` or ``[asterisk.NAME]``)."""
        return cls(
            settings.ari_url,
            settings.ari_user,
            settings.ari_password,
            timeout=settings.request_timeout_seconds,
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers)
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        template: str | None = None,
    ) -> Any:
        """Issue ``METHOD /ari{path}``; return the decoded JSON (None for 204)."""
        self.issued.add((method, template or path))
        url = f"{self.base_url}/ari{path}"
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        try:
            async with self.session.request(
                method,
                url,
                params=clean,
                json=body,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                text = await response.text()
                if response.status >= 400:
                    raise AriError(method, path, response.status, _reason(text, response.reason))
                if not text:
                    return None
                return json.loads(text)
        except AriError:
            raise
        except TimeoutError:
            raise AriError(method, path, None, f"no answer within {self.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise AriError(method, path, None, f"cannot reach Asterisk: {exc}") from None

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self.request("GET", path, **kwargs)

    async def get_bytes(self, path: str, *, template: str | None = None) -> bytes:
        """``GET /ari{path}`` returning the raw body (recordings, sounds)."""
        self.issued.add(("GET", template or path))
        try:
            async with self.session.get(
                f"{self.base_url}/ari{path}", timeout=aiohttp.ClientTimeout(total=self.timeout * 6)
            ) as response:
                body = await response.read()
                if response.status >= 400:
                    raise AriError(
                        "GET",
                        path,
                        response.status,
                        _reason(body.decode(errors="replace"), response.reason),
                    )
                return body
        except AriError:
            raise
        except TimeoutError:
            raise AriError("GET", path, None, f"no answer within {self.timeout * 6:g} s") from None
        except aiohttp.ClientError as exc:
            raise AriError("GET", path, None, f"cannot reach Asterisk: {exc}") from None

    async def open_events(
        self, apps: list[str], *, subscribe_all: bool = False
    ) -> aiohttp.ClientWebSocketResponse:
        """Open the event WebSocket (``GET /events``); raises :class:`AriError` if refused.

        Without ``subscribe_all`` the applications hear only their own channels until
        :meth:`subscribe` adds more: see :data:`EVENT_SOURCES` for why Medlytt does not
        use ``subscribeAll``.

        The handshake gets the same time as any request: aiohttp would otherwise wait its
        session default (five minutes) on an Asterisk that accepts the connection but never
        answers the upgrade, and the gateway would hang there silently instead of saying so
        and retrying.
        """
        self.issued.add(("GET", "/events"))
        params = {"app": ",".join(apps), "subscribeAll": "true" if subscribe_all else "false"}
        try:
            async with asyncio.timeout(self.timeout):
                return await self.session.ws_connect(
                    f"{self.base_url}/ari/events",
                    params=params,
                    heartbeat=15,
                    timeout=aiohttp.ClientWSTimeout(ws_close=self.timeout),
                )
        except TimeoutError:
            raise AriError("GET", "/events", None, f"no answer within {self.timeout:g} s") from None
        except aiohttp.WSServerHandshakeError as exc:
            raise AriError("GET", "/events", exc.status, exc.message) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise AriError("GET", "/events", None, f"cannot reach Asterisk: {exc}") from None

    async def subscribe(self, app: str, sources: Iterable[str] = EVENT_SOURCES) -> Any:
        """Subscribe ``app`` (its WebSocket open) to more event sources, e.g. ``channel:``
        for every channel (``POST /applications/{app}/subscription``)."""
        return await self.request(
            "POST",
            f"/applications/{quote(app, safe='')}/subscription",
            params={"eventSource": ",".join(sources)},
            template="/applications/{applicationName}/subscription",
        )

    @staticmethod
    async def iter_events(
        ws: aiohttp.ClientWebSocketResponse, reject: Reject | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every ARI event of an open WebSocket as a dict, until it closes.

        A frame that is not a JSON object (not JSON, nested too deeply, a list, a number, a
        binary frame) is reported to ``reject`` and skipped.
        """
        report = reject if reject is not None else RejectLog("ARI")
        async for message in ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                event = decode_event(message.data, report)
                if event is not None:
                    yield event
            elif message.type is aiohttp.WSMsgType.BINARY:
                report("ARI frame", "a binary frame, not JSON text")
            elif message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                break

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


#: msgspec's JSON decoder: three times ``json.loads`` on Asterisk's event frames.
_decoder = msgspec.json.Decoder()


def decode_event(text: str, reject: Reject) -> dict[str, Any] | None:
    """One ARI event from the text of a WebSocket frame; None (rejected) if it is not one.

    msgspec decodes every frame Asterisk sends; what it refuses (NaN, numbers beyond 64
    bits, lone surrogates, deep nesting) goes through ``json.loads``, so the frames taken
    are exactly those the standard library takes.
    """
    try:
        event = _decoder.decode(text)
    except (msgspec.DecodeError, RecursionError):
        try:
            event = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python goes
            reject("ARI frame", "not JSON")
            return None
    if not isinstance(event, dict):
        reject("ARI frame", "JSON, but not an object")
        return None
    return event


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _reason(text: str, fallback: str | None) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip() or (fallback or "error")
    if isinstance(data, dict) and "message" in data:
        return str(data["message"])
    return text.strip() or (fallback or "error")
