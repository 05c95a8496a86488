"""A small asyncio client for the Asterisk Manager Interface (AMI).

Why our own: AMI is a line protocol of ``Key: Value`` blocks; what Medlytt needs (login,
actions with an ``ActionID``, event lists such as ``QueueStatus``, a stream of events) is a
couple of hundred lines.  panoramisk, the usual library, had its last release in 2021 and
brings its own event-loop and callback conventions; a client of our own keeps the
timeouts, errors and reconnection under the gateway's control and is tested against a
real Asterisk.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, cast

from .malformed import Reject, RejectLog
from .settings import AsteriskSettings

log = logging.getLogger(__name__)

AmiMessage = dict[str, str]

#: A block longer than this is not AMI (an event is a few hundred bytes, a few KiB with
#: many channel variables): it is rejected and not kept in memory.  A single line is
#: bounded by the stream reader's limit (64 KiB).
MAX_BLOCK_BYTES = 1 << 20


class AmiError(RuntimeError):
    """An AMI action failed, timed out, or the connection broke; the message says which.

    ``kind`` tells a connection that failed before any action apart (diagnose.py gives the
    fix): ``unreachable`` (TCP), ``not_ami`` (something else answers on the port),
    ``login`` (user or secret refused); empty for everything else.
    """

    def __init__(self, message: str, kind: str = "") -> None:
        super().__init__(message)
        self.kind = kind


class AmiClient:
    """One AMI connection: send actions, await their responses, iterate over events."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        secret: str,
        *,
        timeout: float = 5.0,
        reject: Reject | None = None,
        wanted: frozenset[str] | None = None,
        only: Mapping[str, tuple[str, frozenset[str]]] | None = None,
    ):
        self.host = host
        self.port = port
        self.user = user
        self._secret = secret
        self.timeout = timeout
        #: Where malformed blocks are reported (the gateway counts them).
        self.reject: Reject = reject if reject is not None else RejectLog(f"AMI {host}:{port}")
        #: The event kinds read (events of other kinds are passed over unread); None: all.
        #: It must include the events that answer the actions sent (``QueueStatus``...).
        self.wanted = wanted
        #: Kinds read only with one of some values in a field (see :func:`read_messages`).
        self.only = only
        self.banner = ""
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[AmiMessage]] = {}
        self._lists: dict[str, list[AmiMessage]] = {}
        self._list_done: dict[str, asyncio.Future[list[AmiMessage]]] = {}
        self._events: asyncio.Queue[AmiMessage | None] = asyncio.Queue()
        self._read_task: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    @classmethod
    def from_settings(
        cls,
        settings: AsteriskSettings,
        reject: Reject | None = None,
        wanted: frozenset[str] | None = None,
        only: Mapping[str, tuple[str, frozenset[str]]] | None = None,
    ) -> AmiClient:
        """The client of one configured PBX (``[asterisk]`` or ``[asterisk.NAME]``)."""
        return cls(
            settings.ami_host,
            settings.ami_port,
            settings.ami_user,
            settings.ami_secret,
            timeout=settings.request_timeout_seconds,
            reject=reject,
            wanted=wanted,
            only=only,
        )

    async def connect(self) -> None:
        """Open the TCP connection, read the banner and log in."""
        where = f"AMI {self.host}:{self.port}"
        try:
            reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout
            )
            self._reader = reader
        except (OSError, TimeoutError) as exc:
            raise AmiError(
                f"cannot connect to {where}: {str(exc) or 'timed out'}", "unreachable"
            ) from exc
        try:
            banner = await asyncio.wait_for(reader.readline(), self.timeout)
        except (OSError, TimeoutError) as exc:
            await self.close()
            raise AmiError(
                f"{where} sent no AMI banner within {self.timeout:g} s ({str(exc) or 'silent'})",
                "not_ami",
            ) from exc
        self.banner = banner.decode(errors="replace").strip()
        if not self.banner.startswith("Asterisk Call Manager"):
            await self.close()
            raise AmiError(
                f"{where} is not an Asterisk manager (banner {self.banner!r})", "not_ami"
            )
        self._read_task = asyncio.create_task(self._read_loop(), name="medlytt-ami-reader")
        response = await self.action("Login", Username=self.user, Secret=self._secret)
        if response.get("Response") != "Success":
            await self.close()
            raise AmiError(
                f"{where}: login as {self.user!r} refused: {response.get('Message', response)}",
                "login",
            )

    async def action(self, name: str, **fields: str | int) -> AmiMessage:
        """Send an action and return its response (``Response: Success`` or ``Error``)."""
        action_id = str(next(self._ids))
        future: asyncio.Future[AmiMessage] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        try:
            await self._send({"Action": name, "ActionID": action_id, **fields})
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            raise AmiError(f"AMI action {name} got no response within {self.timeout:g} s") from None
        finally:
            self._pending.pop(action_id, None)

    async def action_list(self, name: str, **fields: str | int) -> list[AmiMessage]:
        """Send an action that answers with an event list; return the list's events."""
        action_id = str(next(self._ids))
        loop = asyncio.get_running_loop()
        response: asyncio.Future[AmiMessage] = loop.create_future()
        done: asyncio.Future[list[AmiMessage]] = loop.create_future()
        self._pending[action_id] = response
        self._lists[action_id] = []
        self._list_done[action_id] = done
        try:
            await self._send({"Action": name, "ActionID": action_id, **fields})
            first = await asyncio.wait_for(response, self.timeout)
            if first.get("Response") == "Error":
                raise AmiError(f"AMI action {name} failed: {first.get('Message', first)}")
            return await asyncio.wait_for(done, self.timeout)
        except TimeoutError:
            raise AmiError(
                f"AMI action {name} did not complete within {self.timeout:g} s"
            ) from None
        finally:
            self._pending.pop(action_id, None)
            self._lists.pop(action_id, None)
            self._list_done.pop(action_id, None)

    async def events(self) -> AsyncIterator[AmiMessage]:
        """Every event not part of an action's answer, until the connection closes."""
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                if self._read_task is not None and not self._read_task.done():
                    await asyncio.wait_for(self._send({"Action": "Logoff"}), 1)
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._read_task is not None:
            self._read_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._read_task
        self._finish()

    # ------------------------------------------------------------------ internals

    async def _send(self, fields: dict[str, str | int]) -> None:
        if self._writer is None or self.closed.is_set():
            raise AmiError("AMI connection is closed")
        lines = []
        for key, value in fields.items():
            text = str(value)
            if "\r" in text or "\n" in text:
                raise AmiError(f"AMI field {key} must not contain a line break")
            lines.append(f"{key}: {text}\r\n")
        self._writer.write(("".join(lines) + "\r\n").encode())
        await self._writer.drain()

    async def _read_loop(self) -> None:
        assert self._reader is not None
        try:
            messages = read_messages(self._reader, self.reject, wanted=self.wanted, only=self.only)
            async for message in messages:
                self._dispatch(message)
        except (OSError, asyncio.IncompleteReadError) as exc:
            log.warning("AMI connection lost: %s", exc)
        finally:
            self._finish()

    def _dispatch(self, message: AmiMessage) -> None:
        action_id = message.get("ActionID")
        if "Response" in message and action_id in self._pending:
            future = self._pending[action_id]
            if not future.done():
                future.set_result(message)
            return
        if "Event" in message and action_id in self._lists:
            if message.get("EventList") == "Complete":
                done = self._list_done[action_id]
                if not done.done():
                    done.set_result(self._lists[action_id])
            else:
                self._lists[action_id].append(message)
            return
        if "Event" in message:
            self._events.put_nowait(message)
        elif "Response" not in message:
            self.reject("AMI block", "neither an Event nor a Response")
        # else: the answer to an action that timed out already

    def _finish(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        error = AmiError("AMI connection closed")
        futures: list[asyncio.Future[Any]] = [*self._pending.values(), *self._list_done.values()]
        for future in futures:
            if not future.done():
                future.set_exception(error)
        self._events.put_nowait(None)


#: A line of nothing but carriage returns: the empty line that ends a block.
_BLANK_LINE = re.compile(r"^\r*$", re.MULTILINE)

#: Bytes asked of the stream at a time: many lines per await, instead of one await a line.
READ_SIZE = 1 << 16


class _Blocks:
    """The state of :func:`read_messages` between chunks: the block being read."""

    def __init__(
        self,
        reject: Reject,
        max_block_bytes: int,
        wanted: frozenset[str] | None = None,
        only: Mapping[str, tuple[str, frozenset[str]]] | None = None,
    ) -> None:
        self.reject = reject
        self.max_block_bytes = max_block_bytes
        self.wanted = wanted
        self.only = only or {}
        self.message: AmiMessage = {}
        self.size = 0
        self.problem: str | None = None
        #: The block being read is an event of a kind nobody wants: passed over unread.
        self.skipping = False

    def take(
        self, lines: Sequence[str | None], sizes: Sequence[int] | None = None, eol: int = 1
    ) -> list[AmiMessage]:
        """The well-formed blocks these lines complete.  A line is given decoded, without
        its line feed (``eol``: the bytes that ended it, 0 for the last one of a stream);
        None is a line over the limit, dropped.  ``sizes``: each line's length in bytes
        when that is not its length in characters (text that is not ASCII).  One call per
        chunk, its loop on local names: this runs for every line Asterisk sends."""
        message, size, problem = self.message, self.size, self.problem
        limit, wanted, skipping = self.max_block_bytes, self.wanted, self.skipping
        done: list[AmiMessage] = []
        for index, text in enumerate(lines):
            if skipping:
                if text is None or text.rstrip("\r\n"):
                    continue
                skipping = False
                message, size, problem = {}, 0, None
                continue
            if text is None:
                problem = problem or "a line longer than the reader's limit"
                message = {}
                continue
            line = text.rstrip("\r\n")
            if not line:
                if problem is not None:
                    self.reject("AMI block", problem)
                elif message and self._keep(message):
                    done.append(message)
                message, size, problem = {}, 0, None
                continue
            if problem is not None:
                continue  # the rest of a block already rejected
            size += (len(text) if sizes is None else sizes[index]) + eol
            key, colon, value = line.partition(":")
            key = key.strip()
            if not colon or not key:
                problem = "a line that is not 'Key: Value'"
            elif size > limit:
                problem = f"a block over {limit} bytes"
            elif wanted is not None and not message and key == "Event":
                # The first line of an event: one of a kind nobody uses (most of AMI's
                # traffic: VarSet, Newexten...) is passed over without reading its lines.
                value = value.strip()
                skipping = value not in wanted
                if not skipping:
                    message[key] = value
                continue
            else:
                message[key] = value.strip()
                continue
            message = {}
        self.message, self.size, self.problem = message, size, problem
        self.skipping = skipping
        return done

    def _keep(self, message: AmiMessage) -> bool:
        """False for an event ``only`` says nobody reads (a ``VarSet`` of another variable)."""
        rule = self.only.get(message.get("Event", "")) if self.only else None
        return rule is None or message.get(rule[0]) in rule[1]

    def _unread(self, kind: str, text: str, start: int, stop: int) -> bool:
        """Whether the block ``text[start:stop]`` of an event ``kind`` is one ``only`` says
        nobody reads, judged from its last ``KEY:`` line as Asterisk writes it."""
        rule = self.only.get(kind)
        if rule is None:
            return False
        key, values = rule
        at = text.rfind(f"\n{key}:", start, stop)
        if at < 0:
            return False
        at += len(key) + 2
        return text[at : text.index("\n", at)].strip() not in values

    def take_text(self, text: str) -> list[AmiMessage]:
        """:meth:`take` for whole lines of text (ending in a line feed): an unwanted event
        is passed over by a search for the empty line that ends it, never split into
        lines; everything else goes through :meth:`take` block by block."""
        if self.wanted is None:
            return self.take(text.split("\n")[:-1])
        done: list[AmiMessage] = []
        pos, end = 0, len(text)
        while pos < end:
            at_start = not self.message and self.problem is None
            blank = _BLANK_LINE.search(text, pos)
            stop = end if blank is None or blank.start() == end else blank.end() + 1
            if not self.skipping and at_start:
                raw = text[pos : text.index("\n", pos)]
                key, colon, kind = raw.rstrip("\r\n").partition(":")
                if colon and key.strip() == "Event" and len(raw) + 1 <= self.max_block_bytes:
                    kind = kind.strip()  # as take() would decide at this line, or at its end
                    self.skipping = kind not in self.wanted or (
                        stop < end and self._unread(kind, text, pos, stop)
                    )
            if self.skipping:
                if stop < end or (blank is not None and blank.start() < end):
                    self.skipping = False
                    self.message, self.size, self.problem = {}, 0, None
                pos = stop
                continue
            done.extend(self.take(text[pos:stop].split("\n")[:-1]))
            pos = stop
        return done

    def take_bytes(self, lines: list[bytes | None], eol: int = 1) -> list[AmiMessage]:
        """:meth:`take` for raw lines: decoded one by one (U+FFFD for what is not UTF-8)."""
        sizes = [0 if raw is None else len(raw) for raw in lines]
        texts = [None if raw is None else raw.decode(errors="replace") for raw in lines]
        return self.take(texts, sizes, eol)

    def end(self) -> None:
        if not self.skipping and (self.message or self.problem is not None):
            self.reject("AMI block", "cut off by the end of the stream")


async def read_messages(
    reader: asyncio.StreamReader,
    reject: Reject,
    *,
    max_block_bytes: int = MAX_BLOCK_BYTES,
    wanted: frozenset[str] | None = None,
    only: Mapping[str, tuple[str, frozenset[str]]] | None = None,
) -> AsyncIterator[AmiMessage]:
    """The ``Key: Value`` blocks of an AMI stream as dicts, until the stream ends.

    A block is the lines up to an empty line.  A block that is not all ``Key: Value`` lines
    is rejected as a whole, since part of a message translates into a wrong event: a line
    without a colon or with an empty key, a line over the reader's limit, a block over
    ``max_block_bytes``, a block cut off by the end of the stream.  Bytes that are not
    UTF-8 are read as U+FFFD (a caller name in Latin-1 stays usable).

    The stream is read in chunks of whatever has arrived and split into lines here: one
    await per line cost more than everything else Medlytt does with an AMI message.  A
    line is over the limit, as for ``readuntil``, when it is longer than the reader's
    limit plus its line feed; it is dropped up to its line feed.

    ``wanted``: the event kinds the caller uses; an event block of another kind (its
    first line ``Event: KIND``) is passed over without being read or checked.  None: all.
    ``only``: for some kinds, the one field that decides whether anyone reads the event
    and the values that do (``{"VarSet": ("Variable", {"QUEUESTATUS"})}``); others are
    passed over too.
    """
    limit: int = getattr(reader, "_limit", 1 << 16)
    blocks = _Blocks(reject, max_block_bytes, wanted, only)
    pending = b""  # the start of a line whose line feed has not arrived
    too_long = False  # the line being read is over the limit: dropped up to its line feed
    while True:
        chunk = await reader.read(READ_SIZE)
        if not chunk:
            break
        data = pending + chunk if pending else chunk
        cut = data.rfind(b"\n") + 1
        pending, data = data[cut:], data[:cut]
        if not too_long and cut <= limit and data.isascii():
            # The common case, decoded and split in one go: no line can be over the limit
            # and every character is one byte.
            messages = blocks.take_text(data.decode("ascii"))
        else:
            lines = cast("list[bytes | None]", data.split(b"\n")[:-1])
            if too_long and lines:
                too_long, lines[0] = False, None
            lines = [None if raw is not None and len(raw) > limit else raw for raw in lines]
            messages = blocks.take_bytes(lines)
        for message in messages:
            yield message
        if len(pending) > limit:
            too_long, pending = True, b""
    if too_long or pending:
        for message in blocks.take_bytes([None if too_long else pending], eol=0):
            yield message
    blocks.end()
