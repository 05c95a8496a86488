"""baresip's ``ctrl_tcp``: its call events in, call commands (accept, hang up, hold,
resume, mute) out.

baresip's ctrl_tcp module sends every event as a netstring-framed JSON object
(``{"event": true, "class": "call", "type": "CALL_ESTABLISHED", "id": ..., "peeruri": ...}``)
and answers each command (``{"command": "hangup", "params": "", "token": "t1"}``) with
``{"response": true, "ok": true, "data": "...", "token": "t1"}``.  :class:`BaresipControl`
keeps one connection, hands call events out as :class:`PhoneCallUpdate` and matches each
answer to its command by token.  Facts verified against baresip 1.0.0 (Debian 12).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import msgspec
from medlytt import utcnow

from .netstring import NetstringDecoder, NetstringError, encode

log = logging.getLogger(__name__)

#: baresip's call event types and the softphone call state each one means.
CALL_STATES: dict[str, str] = {
    "CALL_INCOMING": "incoming",
    "CALL_OUTGOING": "outgoing",
    "CALL_RINGING": "ringing",
    "CALL_PROGRESS": "ringing",
    "CALL_ESTABLISHED": "established",
    "CALL_HOLD": "held",
    "CALL_RESUME": "resumed",
    "CALL_CLOSED": "closed",
}
#: Commands Medlytt sends (baresip's menu commands of the same name act on the current call).
COMMANDS = ("accept", "hangup", "hold", "resume", "mute")


class BaresipError(Exception):
    """baresip refused a command or cannot be reached; the message says which and why."""


class PhoneCallUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """What a softphone said about one of its calls, before it is tied to an agent."""

    phone_call_id: str
    state: str
    at: datetime
    direction: str | None = None
    peer: str | None = None
    reason: str | None = None


def translate(message: dict[str, Any], at: datetime | None = None) -> PhoneCallUpdate | None:
    """The call update in one ctrl_tcp message, or None (not a call event Medlytt uses:
    SDP, RTCP statistics, registrations, command answers)."""
    if message.get("event") is not True or message.get("class") != "call":
        return None
    state = CALL_STATES.get(str(message.get("type")))
    call_id = message.get("id")
    if state is None or not isinstance(call_id, str) or not call_id:
        return None
    direction = message.get("direction")
    return PhoneCallUpdate(
        phone_call_id=call_id,
        state=state,
        at=at or utcnow(),
        direction=direction if direction in ("incoming", "outgoing") else None,
        peer=_text(message.get("peeruri")),
        reason=_text(message.get("param")) if state == "closed" else None,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` of a ctrl_tcp listener; a clear error for anything else."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"baresip ctrl_tcp address must be HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port)


class BaresipControl:
    """One connection to a baresip's ``ctrl_tcp``.

    Use as ``async with BaresipControl("127.0.0.1:4444") as phone:``, read call updates
    with ``async for update in phone.updates()`` (ends when baresip closes the
    connection) and act with :meth:`accept`, :meth:`hangup`, :meth:`hold`,
    :meth:`resume`, :meth:`mute`.  baresip reports no event when its microphone is muted,
    so the answer to ``mute`` ("call muted" / "call un-muted") becomes a ``muted`` or
    ``unmuted`` update of the current call.
    """

    def __init__(self, address: str, *, timeout: float = 5.0) -> None:
        self.address = address
        self.host, self.port = parse_address(address)
        self.timeout = timeout
        self.rejected = 0  # frames that were not JSON objects
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._updates: asyncio.Queue[PhoneCallUpdate | None] = asyncio.Queue()
        self._answers: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tokens = itertools.count(1)
        self._current: str | None = None  # the call baresip's menu commands act on
        self._states: dict[str, str] = {}  # call -> last hold or mute state reported

    async def __aenter__(self) -> BaresipControl:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout
            )
        except (OSError, TimeoutError) as exc:
            raise BaresipError(
                f"baresip ctrl_tcp at {self.address} is not reachable ({exc.__class__.__name__}"
                f"{': ' + str(exc) if str(exc) else ''}); is baresip running with "
                f"ctrl_tcp_listen {self.address}?"
            ) from None
        self._task = asyncio.create_task(self._read(), name=f"baresip {self.address}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._writer.wait_closed()
            self._writer = None

    async def updates(self) -> AsyncIterator[PhoneCallUpdate]:
        """Call updates in the order baresip sent them, until the connection ends."""
        while True:
            update = await self._updates.get()
            if update is None:
                return
            yield update

    # -- commands ---------------------------------------------------------------------------

    async def command(self, name: str, params: str = "") -> str:
        """Send one ctrl_tcp command; return baresip's answer text, raise if it refused."""
        if self._writer is None:
            raise BaresipError(f"not connected to baresip at {self.address}")
        token = f"medlytt-{next(self._tokens)}"
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._answers[token] = answer
        body = json.dumps({"command": name, "params": params, "token": token}).encode()
        try:
            self._writer.write(encode(body))
            await self._writer.drain()
            reply = await asyncio.wait_for(answer, self.timeout)
        except TimeoutError:
            raise BaresipError(f"baresip did not answer {name!r} within {self.timeout} s") from None
        except (OSError, ConnectionError) as exc:
            raise BaresipError(f"baresip connection lost while sending {name!r}: {exc}") from None
        finally:
            self._answers.pop(token, None)
        data = str(reply.get("data") or "")
        if reply.get("ok") is not True:
            raise BaresipError(f"baresip refused {name!r}: {data.strip() or 'no reason given'}")
        return data

    async def accept(self) -> str:
        return await self.command("accept")

    async def hangup(self) -> str:
        return await self.command("hangup")

    async def hold(self) -> str:
        """Put the current call on hold (baresip 1.0 answers with no event: ``held`` is
        reported from the answer)."""
        data = await self.command("hold")
        self._report("held")
        return data

    async def resume(self) -> str:
        data = await self.command("resume")
        self._report("resumed")
        return data

    async def mute(self) -> str:
        """Toggle the microphone of the current call (baresip's ``mute``)."""
        data = await self.command("mute")
        if "mute" in data:
            self._report("unmuted" if "un-muted" in data or "unmuted" in data else "muted")
        return data

    def _report(self, state: str) -> None:
        """An update of the current call that baresip itself does not send as an event
        (once: a baresip that does send it is not counted twice)."""
        call = self._current
        if call is not None and self._states.get(call) != state:
            self._states[call] = state
            self._updates.put_nowait(PhoneCallUpdate(phone_call_id=call, state=state, at=utcnow()))

    # -- reading ----------------------------------------------------------------------------

    async def _read(self) -> None:
        assert self._reader is not None
        decoder = NetstringDecoder()
        try:
            while chunk := await self._reader.read(65536):
                for frame in decoder.feed(chunk):
                    self._dispatch(frame)
        except NetstringError as exc:
            log.warning("baresip at %s: stream broken, closing: %s", self.address, exc)
        except (OSError, ConnectionError) as exc:
            log.info("baresip at %s: connection lost: %s", self.address, exc)
        finally:
            for answer in self._answers.values():
                if not answer.done():
                    answer.set_exception(BaresipError(f"baresip at {self.address} went away"))
            self._updates.put_nowait(None)

    def _dispatch(self, frame: bytes) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self.rejected += 1
            return
        if message.get("response") is True:
            answer = self._answers.get(str(message.get("token")))
            if answer is not None and not answer.done():
                answer.set_result(message)
            return
        update = translate(message)
        if update is None:
            return
        call = update.phone_call_id
        if update.state in ("incoming", "outgoing", "established", "resumed"):
            self._current = call
        elif update.state == "closed":
            self._states.pop(call, None)
            if self._current == call:
                self._current = None
        if update.state in ("held", "resumed"):
            if self._states.get(call) == update.state:
                return  # already reported from the command's answer
            self._states[call] = update.state
        self._updates.put_nowait(update)
