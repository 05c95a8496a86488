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
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
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
    """Delivers events to one plugin's ``medlytt_event``, in order, on its own task.

    This is the hot path (every event, once per plugin that takes it), so it is lean on
    purpose: a deque rather than an :class:`asyncio.Queue`, the worker empties it in one go
    without awaiting between events, the breaker is asked once, and an ``async def``
    handler runs without a timer of its own: the bus's watchdog
    (:meth:`EventBus._watch`) cancels a handler that runs past the hook timeout, which
    costs nothing for the calls that return at once.
    """

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
        self.maxsize = size
        #: (event, extra keyword arguments or None); channel events carry their port.
        self.items: deque[tuple[Any, dict[str, Any] | None]] = deque()
        self.dropped = 0
        self.delivered = 0
        self.overflowing = False
        self.task: asyncio.Task[None] | None = None
        #: Loop time at which the running ``async`` handler started; None between calls.
        self.busy_since: float | None = None
        self._timed_out = False
        self._unfinished = 0  # queued plus the one being handled
        self._wake: asyncio.Future[None] | None = None
        self._joiners: list[asyncio.Future[None]] = []
        self._hook = impl.function.__name__
        #: The handler's positional arguments; the event goes in at ``_event_at``.
        self._template = [kwargs.get(name) for name in impl.argnames]
        self._event_at = impl.argnames.index("event") if "event" in impl.argnames else -1
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

    def __len__(self) -> int:
        return len(self.items)

    def full(self) -> bool:
        return len(self.items) >= self.maxsize

    def offer(self, event: Any, extra: dict[str, Any] | None = None) -> bool:
        """Queue an event; return False (and count) when the mailbox is full.

        The first drop of a run is logged, and the recovery; the count in between is in
        ``medlytt_plugin_events_dropped_total`` rather than one log line per event.
        """
        items = self.items
        if len(items) >= self.maxsize:
            if not self.overflowing:
                log.warning(
                    "plugin %s: mailbox full (%d events); dropping events until it catches up",
                    self.info.name,
                    self.maxsize,
                )
            self.overflowing = True
            self.dropped += 1
            return False
        items.append((event, extra))
        self._unfinished += 1
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)
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
        loop = asyncio.get_running_loop()
        items = self.items
        breaker = self.info.breaker
        function = self.impl.function
        template, event_at = self._template, self._event_at
        while True:
            while items:
                event, extra = items.popleft()
                try:
                    if not breaker.allow():
                        self.dropped += 1
                        continue
                    if extra:
                        kwargs = {**self.kwargs, "event": event, **extra}
                        args = [kwargs[name] for name in self.impl.argnames]
                    else:
                        args = template.copy()
                        if event_at >= 0:
                            args[event_at] = event
                    try:
                        result = function(*args)
                        if result is not None and inspect.isawaitable(result):
                            await self._await(result, loop)
                    except asyncio.CancelledError:
                        if not self._timed_out:
                            raise  # the bus is stopping
                        self._timed_out = False
                        if self.task is not None:
                            self.task.uncancel()
                        self.host.record_timeout(self.info, self._hook)
                    except Exception as exc:
                        self.host.record_failure(self.info, self._hook, exc)
                    else:
                        breaker.record_success()
                        self.delivered += 1
                finally:
                    self._unfinished -= 1
            if self._joiners:
                for joiner in self._joiners:
                    if not joiner.done():
                        joiner.set_result(None)
                self._joiners.clear()
            self._wake = loop.create_future()
            try:
                await self._wake
            finally:
                self._wake = None

    async def _await(self, result: Awaitable[Any], loop: asyncio.AbstractEventLoop) -> None:
        """Await an ``async`` handler in the watchdog's sight (``busy_since``)."""
        self.busy_since = loop.time()
        try:
            await result
        finally:
            self.busy_since = None
        if self._timed_out:  # the handler swallowed the watchdog's cancellation
            raise asyncio.CancelledError

    def overdue(self, now: float, timeout: float) -> bool:
        """Cancel the running handler if it has run ``timeout`` s; True if it did."""
        since = self.busy_since
        if since is None or self._timed_out or now - since < timeout or self.task is None:
            return False
        self._timed_out = True
        self.task.cancel()
        return True

    async def join(self) -> None:
        """Wait until every queued event has been handled."""
        if self._unfinished:
            joiner = asyncio.get_running_loop().create_future()
            self._joiners.append(joiner)
            await joiner

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
        self._watchdog: asyncio.Task[None] | None = None
        #: Event class -> the mailboxes that take it (``listens_to`` is decided by class).
        self._routes: dict[type, tuple[PluginMailbox, ...]] = {}

    def start(self) -> None:
        """Create a mailbox and a worker for each plugin implementing ``medlytt_event``,
        and the watchdog that bounds their ``async`` handlers."""
        kwargs = {"state": self.state, **self.extra_kwargs}
        for info, impl in self.host.implementations("medlytt_event"):
            mailbox = PluginMailbox(info, impl, self.host, kwargs, self.mailbox_size)
            mailbox.start()
            self.mailboxes.append(mailbox)
        for info, impl in self.host.implementations("medlytt_channel_event"):
            mailbox = PluginMailbox(info, impl, self.host, kwargs, self.mailbox_size)
            mailbox.start()
            self.channel_mailboxes.append(mailbox)
        self._routes.clear()
        self._watchdog = asyncio.create_task(self._watch(), name="medlytt-mailbox-watchdog")

    async def _watch(self) -> None:
        """Cancel any handler that has run longer than the hook timeout.

        One timer for all mailboxes instead of one per call: a handler is cancelled between
        ``hook_timeout`` and ``hook_timeout`` plus a quarter of it (at most half a second)
        after it started, and counted as a timeout towards its plugin's breaker.
        """
        timeout = self.host.hook_timeout
        interval = max(0.01, min(0.5, timeout / 4))
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            for mailbox in self.mailboxes + self.channel_mailboxes:
                mailbox.overdue(now, timeout)

    def publish(self, event: Event) -> None:
        """Take one event into Medlytt.  Never blocks, never raises because of a plugin."""
        self.state.apply(event)
        self.published += 1
        if self.journal is not None:
            self.journal.append(event)
        for listener in self.listeners:
            listener(event)
        routes = self._routes.get(type(event))
        if routes is None:
            routes = self._routes[type(event)] = tuple(
                m for m in self.mailboxes if m.accepts(event)
            )
        for mailbox in routes:
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
        waits = [asyncio.create_task(m.join()) for m in self.mailboxes + self.channel_mailboxes]
        if not waits:
            return True
        _, pending = await asyncio.wait(waits, timeout=timeout)
        for task in pending:
            task.cancel()
        return not pending

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        for mailbox in self.mailboxes + self.channel_mailboxes:
            await mailbox.stop()
        self.mailboxes.clear()
        self.channel_mailboxes.clear()
        self._routes.clear()

    def dropped(self) -> dict[str, int]:
        dropped: dict[str, int] = {}
        for mailbox in self.mailboxes + self.channel_mailboxes:
            dropped[mailbox.info.name] = dropped.get(mailbox.info.name, 0) + mailbox.dropped
        return dropped
