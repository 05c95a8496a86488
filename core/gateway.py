"""What a gateway is: a long-running source of domain events.

A gateway translates; it never decides.  The Asterisk gateway turns ARI and AMI messages
into :mod:`medlytt.events`; the demo gateway simulates a contact center.  Plugins provide
gateways through the ``medlytt_gateways`` hook and the core runs them (see
:class:`medlytt.gateway_runner.GatewayRunner`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable

from .callcontrol import ALL_CAPABILITIES, CallControl, ChannelEvent
from .events import Event

#: How a gateway hands an event to the core.  Non-blocking; safe to call from the loop.
Publish = Callable[[Event], None]
#: How a gateway hands a channel event (with the port it concerns) to the core.
PublishChannel = Callable[[ChannelEvent, CallControl], None]


def _nowhere(event: ChannelEvent, port: CallControl) -> None:
    """Channel events before the core attached the gateway go nowhere."""


class Gateway(abc.ABC):
    """Base class of every gateway.

    Subclasses set :attr:`name` (used in the ``gateway`` metric label and ``/readyz``) and
    implement :meth:`run`.  ``connected`` says whether the gateway currently reaches its
    source; the core reports it as ``medlytt_gateway_up``.  ``rejected`` counts what it
    dropped as malformed, reported as ``medlytt_gateway_messages_rejected_total``.
    """

    #: Short, stable name, e.g. ``"asterisk"`` or ``"demo"``.
    name: str = "gateway"
    #: A fallback gateway (the demo) runs only when no other gateway is configured.
    fallback: bool = False
    #: A simulated source: its events are not real calls, and the API and metrics say so.
    demo: bool = False
    #: Messages from the source dropped as malformed (unparseable, a needed field missing
    #: or of the wrong kind) instead of being guessed at; only ever grows.
    rejected: int = 0

    def __init__(self) -> None:
        self.connected = False
        #: Per-connection detail for a gateway that needs several connections to its source
        #: (Asterisk: ``{"ami": True, "ari": False}``): each one's last known state, shown by
        #: ``/readyz`` and ``/api/gateways``.  ``connected`` is true only when all are up.
        self.connections: dict[str, bool] = {}
        #: The gateway's call-control port, when it can act on calls (None: it cannot, and
        #: a feature that needs it answers 503 naming what is missing).
        self.call_control: CallControl | None = None
        #: Where the gateway hands channel events; set by the core before :meth:`run`.
        self.publish_channel: PublishChannel = _nowhere

    @abc.abstractmethod
    async def run(self, publish: Publish) -> None:
        """Produce events with ``publish`` until cancelled.

        Set ``self.connected`` while the source is reachable.  Raising ends this run; the
        core logs it and calls ``run`` again after a backoff.  Cancellation is a clean
        stop: release connections in a ``finally`` block.
        """

    async def close(self) -> None:
        """Release what the gateway still holds after :meth:`run` was cancelled.

        Called once on a clean stop, after every plugin's ``medlytt_shutdown``: plugins
        may still act through the call-control port while they shut down (hang up the
        calls they hold), so its connection to the PBX closes only here.
        """
        return None

    def describe(self) -> dict[str, object]:
        """What ``/readyz`` and ``/api/gateways`` show about this gateway."""
        control = self.call_control
        has = control.capabilities if control else frozenset()
        return {
            "name": self.name,
            "connected": self.connected,
            **({"connections": dict(self.connections)} if self.connections else {}),
            "demo": self.demo,
            "call_control": sorted(c.value for c in has),
            "call_control_lacks": sorted(c.value for c in ALL_CAPABILITIES - has),
        }
