"""The event bus: one way in for every event, and one mailbox per plugin.

``publish`` is synchronous and cheap: it applies the event to the live state (exactly
once, before anyone else sees it), hands it to the journal and counts it, then drops it
into the mailbox of each plugin that implements ``medlytt_event`` (and, when it declared
``medlytt.listens_to(...)``, listens to that type).  Each mailbox has its
own worker task, so a plugin gets events in order and a slow or hanging plugin delays
only itself; the breaker in :class:`medlytt.plugin_host.PluginHost` switches it off if it
keeps failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

from .callcontrol import CallControl, ChannelEvent
from .events import Event
from .plugin_host import PluginHost, PluginInfo
from .state import LiveState

if TYPE_CHECKING:
    from .journal import EventJournal

log = logging.getLogger(__name__)


class PluginMailbox:
    """Delivers events to one plugin's ``medlytt_event``, in order, on its own task."""

    def __init__(
        self,
        info: PluginInfo,
        impl: pluggy.HookImpl,
        host: PluginHost,
        kwargs: dict[str, Any],
        size: int,
    ) -> None:
        self.info = info
        self.impl = impl
        self.host = host
        self.kwargs = kwargs
        #: (event, extra keyword arguments or None); channel events carry their port.
        self.queue: asyncio.Queue[tuple[Any, dict[str, Any] | None]] = asyncio.Queue(maxsize=size)
        self.dropped = 0
        self.delivered = 0
        self.overflowing = False
        self.task: asyncio.Task[None] | None = None
        #: The event types the plugin asked for (``medlytt.listens_to``); None: all.
        wanted = getattr(impl.function, "medlytt_event_types", None)
        self.types: tuple[type, ...] | None = None
        #: Type tags of other plugins' events the plugin asked for by name.
        self.tags: frozenset[str] = frozenset()
        if wanted is not None:
            self.types = tuple(t for t in wanted if isinstance(t, type))
            self.tags = frozenset(t for t in wanted if isinstance(t, str))

    def accepts(self, event: Any) -> bool:
        """Whether the plugin asked for this event (by class, or by type tag)."""
        if self.types is None or isinstance(event, self.types):
            return True
        return bool(self.tags) and event.type in self.tags

    def offer(self, event: Any, extra: dict[str, Any] | None = None) -> bool:
        """Queue an event; return False (and count) when the mailbox is full.

        The first drop of a run is logged, and the recovery; the count in between is in
        ``medlytt_plugin_events_dropped_total`` rather than one log line per event.
        """
        try:
            self.queue.put_nowait((event, extra))
        except asyncio.QueueFull:
            if not self.overflowing:
                log.warning(
                    "plugin %s: mailbox full (%d events); dropping events until it catches up",
                    self.info.name,
                    self.queue.maxsize,
                )
            self.overflowing = True
            self.dropped += 1
            return False
        if self.overflowing:
            self.overflowing = False
            log.warning(
                "plugin %s: mailbox has room again; %d events dropped so far",
                self.info.name,
                self.dropped,
            )
        return True

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"medlytt-mailbox-{self.info.name}")

    async def _run(self) -> None:
        while True:
            event, extra = await self.queue.get()
            try:
                if self.info.breaker.allow():
                    kwargs = {**self.kwargs, "event": event}
                    if extra:
                        kwargs.update(extra)
                    await self.host.invoke(self.info, self.impl, kwargs)
                    self.delivered += 1
                else:
                    self.dropped += 1
            finally:
                self.queue.task_done()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None


class EventBus:
    """Applies, journals, counts and fans out every event."""

    def __init__(
        self,
        state: LiveState,
        host: PluginHost,
        *,
        journal: EventJournal | None = None,
        mailbox_size: int = 10_000,
        extra_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.state = state
        self.host = host
        self.journal = journal
        self.mailbox_size = mailbox_size
        self.extra_kwargs = extra_kwargs or {}
        self.mailboxes: list[PluginMailbox] = []
        #: Mailboxes of ``medlytt_channel_event``: channel events of the call-control port.
        self.channel_mailboxes: list[PluginMailbox] = []
        self.published = 0
        self.listeners: list[Callable[[Event], None]] = []

    def start(self) -> None:
        """Create a mailbox and a worker for each plugin implementing ``medlytt_event``."""
        kwargs = {"state": self.state, **self.extra_kwargs}
        for info, impl in self.host.implementations("medlytt_event"):
            mailbox = PluginMailbox(info, impl, self.host, kwargs, self.mailbox_size)
            mailbox.start()
            self.mailboxes.append(mailbox)
        for info, impl in self.host.implementations("medlytt_channel_event"):
            mailbox = PluginMailbox(info, impl, self.host, kwargs, self.mailbox_size)
            mailbox.start()
            self.channel_mailboxes.append(mailbox)

    def publish(self, event: Event) -> None:
        """Take one event into Medlytt.  Never blocks, never raises because of a plugin."""
        self.state.apply(event)
        self.published += 1
        if self.journal is not None:
            self.journal.append(event)
        for listener in self.listeners:
            listener(event)
        for mailbox in self.mailboxes:
            types = mailbox.types  # inline of mailbox.accepts(): this loop is the hot path
            if (
                types is None
                or isinstance(event, types)
                or (mailbox.tags and mailbox.accepts(event))
            ):
                mailbox.offer(event)

    def publish_channel(self, event: ChannelEvent, port: CallControl) -> None:
        """Hand a channel event to every plugin's ``medlytt_channel_event``, isolated like
        any hook (own mailbox, timeout, error count, breaker); never journaled."""
        extra = {"port": port}
        for mailbox in self.channel_mailboxes:
            if mailbox.accepts(event):
                mailbox.offer(event, extra)

    async def drain(self, timeout: float) -> bool:
        """Wait until every mailbox is empty; False if ``timeout`` passed first."""
        waits = [
            asyncio.create_task(m.queue.join()) for m in self.mailboxes + self.channel_mailboxes
        ]
        if not waits:
            return True
        _, pending = await asyncio.wait(waits, timeout=timeout)
        for task in pending:
            task.cancel()
        return not pending

    async def stop(self) -> None:
        for mailbox in self.mailboxes + self.channel_mailboxes:
            await mailbox.stop()
        self.mailboxes.clear()
        self.channel_mailboxes.clear()

    def dropped(self) -> dict[str, int]:
        dropped: dict[str, int] = {}
        for mailbox in self.mailboxes + self.channel_mailboxes:
            dropped[mailbox.info.name] = dropped.get(mailbox.info.name, 0) + mailbox.dropped
        return dropped
