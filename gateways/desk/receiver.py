"""The core's side of the desk link: many desks at once on one ZeroMQ ROUTER socket.

CURVE encrypts every connection and ZeroMQ's ZAP asks :meth:`DeskReceiver.callback`
whether a desk's public key is listed (``[desk] allowed_keys``); an unlisted key never
completes its handshake.  A desk that does not speak CURVE at all fails the handshake on
the mechanism, which a socket monitor sees.  Both are counted by reason in
``medlytt_desk_refused_total``.  Each listed key belongs to one agent: the events of that
desk are that agent's, whatever the desk claims.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import zmq
import zmq.asyncio
from medlytt import Event, Gateway, HeadsetHook, HeadsetMute, Publish, utcnow
from medlytt.gateways.softphone.events import PHONE_CALL_STATES, SoftphoneCall
from zmq.auth.asyncio import AsyncioAuthenticator
from zmq.utils.monitor import parse_monitor_message

from . import store
from .keys import load_secret_key
from .protocol import Ack, DeskEvent, EventMessage, Heartbeat, Refused, decode_from_desk, encode
from .settings import DeskSettings

if TYPE_CHECKING:
    from medlytt import Medlytt

log = logging.getLogger(__name__)

SOURCE = "desk"
REFUSAL_REASONS = ("unknown_key", "no_curve", "handshake", "agent_mismatch", "malformed")
BATCH = 500  # messages handled per storage write and round of acks
_MECHANISM_MISMATCH = getattr(zmq, "PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH", 0x11000002)


@dataclass
class DeskSession:
    """The last sequence number published for one desk's current session."""

    session: str
    last_seq: int = 0


@dataclass
class DeskCounters:
    """What ``/metrics`` shows about desks; kept across restarts of the receiver."""

    refused: Counter[str] = field(
        default_factory=lambda: Counter(dict.fromkeys(REFUSAL_REASONS, 0))
    )
    delivered: int = 0
    duplicates: int = 0
    last_seen: dict[str, float] = field(default_factory=dict)  # agent -> monotonic time
    dropped: dict[str, int] = field(default_factory=dict)  # agent -> as the desk reported


def to_event(event: DeskEvent, agent_id: str, at: datetime) -> Event:
    """The Medlytt event of one desk event of ``agent_id``."""
    if event.kind == "headset.hook":
        return HeadsetHook(
            at=at,
            source=SOURCE,
            agent_id=agent_id,
            device=event.device,
            off_hook=bool(event.off_hook),
        )
    if event.kind == "headset.mute":
        return HeadsetMute(
            at=at, source=SOURCE, agent_id=agent_id, device=event.device, muted=bool(event.muted)
        )
    state = event.state
    if state not in PHONE_CALL_STATES:
        raise ValueError(
            f"softphone call state {str(state)[:20]!r} is not one of {PHONE_CALL_STATES}"
        )
    direction = event.direction if event.direction in ("incoming", "outgoing") else None
    return SoftphoneCall(
        at=at,
        source=SOURCE,
        agent_id=agent_id,
        device=event.device,
        phone_call_id=str(event.phone_call_id),
        state=state,  # type: ignore[arg-type]  # checked above
        direction=direction,  # type: ignore[arg-type]
        peer=event.peer,
        reason=event.reason,
    )


class DeskReceiver(Gateway):
    """Receives every desk's events and publishes them as their agent's."""

    name = "desk"

    def __init__(
        self,
        settings: DeskSettings,
        counters: DeskCounters,
        app: Medlytt | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.app = app  # its storage keeps the sequence numbers across restarts
        self.counters = counters
        self.sessions: dict[str, DeskSession] = {}  # desk public key -> its session
        self._warned: set[bytes] = set()

    # -- ZAP: which keys may connect ----------------------------------------------------------

    def callback(self, domain: str, key: bytes) -> bool:
        """ZAP asks for every CURVE handshake: is this desk key listed?"""
        if key.decode() in self.settings.allowed_keys:
            return True
        self.counters.refused["unknown_key"] += 1
        if key not in self._warned and len(self._warned) < 100:
            self._warned.add(key)
            log.warning("desk: refused a desk with the unlisted public key %s", key.decode())
        return False

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, publish: Publish) -> None:
        # Read at each start, not at load: a fixed key file is picked up by the next retry,
        # and a bad one is reported (in the log and /readyz) instead of stopping Medlytt.
        public_key, secret_key = load_secret_key(self.settings.secret_key_file)
        if self.app is not None:
            stored = await self.app.storage.run(store.load_sessions)
            for key, (session, last_seq) in stored.items():
                self.sessions.setdefault(key, DeskSession(session, last_seq))
        context = zmq.asyncio.Context()
        auth = AsyncioAuthenticator(context)
        auth.start()
        auth.configure_curve_callback("*", credentials_provider=self)
        sock = context.socket(zmq.ROUTER)
        monitor: zmq.asyncio.Socket | None = None
        try:
            sock.curve_server = True
            sock.curve_publickey, sock.curve_secretkey = public_key, secret_key
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.MAXMSGSIZE, 64 * 1024)
            sock.setsockopt(zmq.HEARTBEAT_IVL, int(self.settings.heartbeat_seconds * 1000))
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, int(self.settings.heartbeat_seconds * 3000))
            monitor = sock.get_monitor_socket(
                zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
            )
            sock.bind(self.settings.bind)
            self.connected = True
            log.info(
                "desk: listening for desks on %s (%d keys listed)",
                self.settings.bind,
                len(self.settings.allowed_keys),
            )
            watcher = asyncio.create_task(self._watch(monitor), name="desk handshakes")
            try:
                await self._receive(sock, publish)
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        finally:
            self.connected = False
            if monitor is not None:
                with contextlib.suppress(zmq.ZMQError):
                    sock.disable_monitor()
                monitor.close(linger=0)
            sock.close(linger=0)
            auth.stop()
            context.term()

    async def _watch(self, monitor: zmq.asyncio.Socket) -> None:
        """Count handshakes that failed before ZAP was asked (no CURVE, garbage)."""
        while True:
            message = parse_monitor_message(await monitor.recv_multipart())
            if message["event"] == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and (
                message["value"] == _MECHANISM_MISMATCH
            ):
                self.counters.refused["no_curve"] += 1
            else:
                self.counters.refused["handshake"] += 1

    async def _receive(self, sock: zmq.asyncio.Socket, publish: Publish) -> None:
        """Take what is waiting (up to :data:`BATCH` messages), publish the new events, store
        the sessions' sequence numbers in one write, then ack: a burst (every desk sending
        its queue after a restart) costs one storage write per batch, not per event."""
        while True:
            batch = [await sock.recv_multipart(copy=False)]
            while len(batch) < BATCH:
                try:
                    batch.append(await sock.recv_multipart(copy=False, flags=zmq.NOBLOCK))
                except zmq.Again:
                    break
            replies: dict[bytes, str | Refused] = {}  # peer -> its desk key to ack, or why not
            advanced: dict[str, str] = {}  # desk key -> agent, sessions that moved on
            for frames in batch:
                self._take(frames, publish, replies, advanced)
            await self._remember(advanced)
            for peer, reply in replies.items():
                if isinstance(reply, str):
                    session = self.sessions[reply]
                    await self._reply(
                        sock, peer, Ack(session=session.session, seq=session.last_seq)
                    )
                else:
                    await self._reply(sock, peer, reply)

    def _take(
        self,
        frames: list[zmq.Frame],
        publish: Publish,
        replies: dict[bytes, str | Refused],
        advanced: dict[str, str],
    ) -> None:
        """Handle one desk message; say in ``replies`` what to answer its peer."""
        peer, body = frames[0].bytes, frames[1:]
        key = str(body[0].get("User-Id")) if body else ""
        agent = self.settings.allowed_keys.get(key)
        if agent is None:  # ZAP let it in, so this cannot happen; never trust it
            self.counters.refused["unknown_key"] += 1
            return
        try:
            message = decode_from_desk([f.bytes for f in body])
        except ValueError as exc:
            self.counters.refused["malformed"] += 1
            self.rejected += 1
            log.warning("desk of %s: dropped a malformed message: %s", agent, exc)
            return
        if message.agent != agent:
            self.counters.refused["agent_mismatch"] += 1
            replies[peer] = Refused(
                reason=(
                    f"this desk's key belongs to agent {agent!r}, not {message.agent!r}; "
                    "fix --agent or [desk] allowed_keys"
                )
            )
            return
        session = self.sessions.get(key)
        if session is None or session.session != message.session:
            session = self.sessions[key] = DeskSession(message.session)
        self.counters.last_seen[agent] = time.monotonic()
        if isinstance(message, Heartbeat):
            self.counters.dropped[agent] = message.dropped
        elif isinstance(message, EventMessage) and self._deliver(message, session, agent, publish):
            advanced[key] = agent
        replies[peer] = key

    async def _remember(self, advanced: dict[str, str]) -> None:
        """Store the sessions' last sequence numbers before acking them.  Shielded: a stop
        that cancels the receiver right here must not leave a published event unrecorded
        (the next core would publish it again when the desk resends it)."""
        if self.app is None or not advanced:
            return
        at = utcnow().isoformat()
        rows = [
            (k, a, self.sessions[k].session, self.sessions[k].last_seq) for k, a in advanced.items()
        ]
        await asyncio.shield(self.app.storage.run(lambda db: store.save_sessions(db, rows, at)))

    async def close(self) -> None:
        """On a clean stop, store every desk's last sequence number once more."""
        if self.app is None or not self.sessions:
            return
        at = utcnow().isoformat()
        rows = [
            (key, self.settings.allowed_keys.get(key, ""), s.session, s.last_seq)
            for key, s in self.sessions.items()
        ]

        await self.app.storage.run(lambda db: store.save_sessions(db, rows, at))

    def _deliver(
        self, message: EventMessage, session: DeskSession, agent: str, publish: Publish
    ) -> bool:
        """Publish a new event (True); count one sent again (False)."""
        if message.seq <= session.last_seq:
            self.counters.duplicates += 1  # sent again after a lost ack: already published
            return False
        now = utcnow()
        skew = now - message.sent  # the desk's clock against ours (plus the trip)
        at = message.event.at + skew
        if abs(skew) > timedelta(seconds=self.settings.max_clock_skew_seconds):
            at = now
        try:
            event = to_event(message.event, agent, at)
        except (TypeError, ValueError) as exc:
            self.counters.refused["malformed"] += 1
            log.warning("desk of %s: dropped an event Medlytt cannot use: %s", agent, exc)
        else:
            publish(event)
            self.counters.delivered += 1
        session.last_seq = message.seq
        return True

    async def _reply(self, sock: zmq.asyncio.Socket, peer: bytes, message: Ack | Refused) -> None:
        with contextlib.suppress(zmq.Again):
            await sock.send_multipart([peer, *encode(message)], flags=zmq.NOBLOCK)
