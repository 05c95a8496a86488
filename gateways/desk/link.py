"""The desk's side of the ZeroMQ link: a bounded queue of events kept until the core acks.

A DEALER socket with CURVE (the desk's key pair, the core's public key) connects to the
core and reconnects by itself.  ``IMMEDIATE`` keeps ZeroMQ from queueing messages for a
connection that is not up, so the only queue is ours: each event stays in it, with its
sequence number, until the core acknowledges it.  When no ack comes for ``resend_seconds``
(the core was restarted, the network dropped what was in flight) every unacknowledged
event is sent again; the core publishes each sequence number once.  The queue holds
``queue_size`` events; beyond that the oldest is dropped and counted in :attr:`dropped`
(the newest state of the headset matters more than the oldest).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from typing import Any

import zmq
import zmq.asyncio
from medlytt import utcnow

from .protocol import (
    Ack,
    DeskEvent,
    EventMessage,
    Heartbeat,
    Refused,
    decode_from_core,
    encode,
)

log = logging.getLogger(__name__)


class DeskLink:
    """Sends one desk's events to the core; see the module docstring for the guarantees."""

    def __init__(
        self,
        core: str,
        agent: str,
        *,
        public_key: bytes,
        secret_key: bytes,
        core_key: bytes,
        queue_size: int = 1000,
        heartbeat_seconds: float = 5.0,
        resend_seconds: float = 2.0,
        curve: bool = True,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.core = core
        self.agent = agent
        self.session = secrets.token_hex(8)
        self.queue_size = queue_size
        self.heartbeat_seconds = heartbeat_seconds
        self.resend_seconds = resend_seconds
        self._keys = (public_key, secret_key, core_key)
        self._curve = curve  # off only to test that the core refuses a desk without CURVE
        self.dropped = 0  # events pushed out of the full queue
        self.acked = 0  # events the core acknowledged
        self.refused: str | None = None  # the core's last reason for refusing us
        self.headset: str | None = None  # the headset's status, sent with each heartbeat
        self._seq = 0
        self._unacked: deque[tuple[int, DeskEvent]] = deque()
        self._sent_upto = 0  # highest seq sent on the current attempt
        self._acked_upto = 0
        self._waiting_since: float | None = None
        self._last_reply: float | None = None
        self._wake = asyncio.Event()

    # -- what the desk's sources call --------------------------------------------------------

    def send(self, event: DeskEvent) -> None:
        """Queue one event (never blocks; drops and counts the oldest when full)."""
        self._seq += 1
        if len(self._unacked) >= self.queue_size:
            self._unacked.popleft()
            self.dropped += 1
        self._unacked.append((self._seq, event))
        self._wake.set()

    @property
    def queued(self) -> int:
        return len(self._unacked)

    @property
    def connected(self) -> bool:
        """The core answered within the last three heartbeats."""
        last = self._last_reply
        return last is not None and time.monotonic() - last < 3 * self.heartbeat_seconds

    # -- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and keep sending until cancelled."""
        context = zmq.asyncio.Context()
        sock = context.socket(zmq.DEALER)
        try:
            self._configure(sock)
            sock.connect(self.core)
            receiver = asyncio.create_task(self._receive(sock), name="desk link acks")
            try:
                await self._send_loop(sock)
            finally:
                receiver.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await receiver
        finally:
            sock.close(linger=0)
            context.term()

    def _configure(self, sock: zmq.asyncio.Socket) -> None:
        public, secret, core_key = self._keys
        if self._curve:
            sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = (
                public,
                secret,
                core_key,
            )
        sock.setsockopt(zmq.IMMEDIATE, 1)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        sock.setsockopt(zmq.HEARTBEAT_IVL, int(self.heartbeat_seconds * 1000))
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, int(self.heartbeat_seconds * 3000))
        sock.setsockopt(zmq.SNDHWM, 10 * self.queue_size)

    async def _send_loop(self, sock: zmq.asyncio.Socket) -> None:
        last_heartbeat = 0.0
        tick = min(self.heartbeat_seconds, self.resend_seconds, 0.5)
        while True:
            with contextlib.suppress(TimeoutError):
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for may report this task's
                # own cancellation as a TimeoutError (suppressed here), and the task never ends.
                async with asyncio.timeout(tick):
                    await self._wake.wait()
            self._wake.clear()
            now = time.monotonic()
            if (
                self._waiting_since is not None
                and self._sent_upto > self._acked_upto
                and now - self._waiting_since > self.resend_seconds
            ):
                self._sent_upto = self._acked_upto  # no ack: send everything again
                self._waiting_since = None
            await self._send_pending(sock, now)
            if now - last_heartbeat >= self.heartbeat_seconds:
                beat = Heartbeat(
                    session=self.session,
                    agent=self.agent,
                    sent=utcnow(),
                    dropped=self.dropped,
                    queued=self.queued,
                    headset=self.headset,
                )
                if await self._try_send(sock, beat):
                    last_heartbeat = now

    async def _send_pending(self, sock: zmq.asyncio.Socket, now: float) -> None:
        for seq, event in list(self._unacked):
            if seq <= self._sent_upto:
                continue
            message = EventMessage(
                session=self.session, seq=seq, agent=self.agent, sent=utcnow(), event=event
            )
            if not await self._try_send(sock, message):
                return  # no connection: they stay queued
            if self._waiting_since is None:
                self._waiting_since = now
            self._sent_upto = seq

    async def _try_send(self, sock: zmq.asyncio.Socket, message: Any) -> bool:
        try:
            await sock.send_multipart(encode(message), flags=zmq.NOBLOCK)
        except zmq.Again:
            return False
        return True

    async def _receive(self, sock: zmq.asyncio.Socket) -> None:
        while True:
            frames = await sock.recv_multipart()
            try:
                message = decode_from_core(frames)
            except ValueError as exc:
                log.warning("desk: ignored a message from the core: %s", exc)
                continue
            self._last_reply = time.monotonic()
            if isinstance(message, Refused):
                if message.reason != self.refused:
                    log.error("desk: the core refuses this desk: %s", message.reason)
                self.refused = message.reason
            elif isinstance(message, Ack) and message.session == self.session:
                self.refused = None
                self._on_ack(message.seq)

    def _on_ack(self, seq: int) -> None:
        if seq <= self._acked_upto:
            return
        self._acked_upto = seq
        self._sent_upto = max(self._sent_upto, seq)
        while self._unacked and self._unacked[0][0] <= seq:
            self._unacked.popleft()
            self.acked += 1
        self._waiting_since = time.monotonic() if self._sent_upto > seq else None
        self._wake.set()
