"""What a gateway is: a long-running source of domain events.

A gateway translates; it never decides.  The Asterisk gateway turns ARI and AMI messages
into :mod:`medlytt.events`; the demo gateway simulates a contact center.  Plugins provide
gateways through the ``medlytt_gateways`` hook and the core runs them (see
:class:`medlytt.gateway_runner.GatewayRunner`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable

from .events import Event

#: How a gateway hands an event to the core.  Non-blocking; safe to call from the loop.
Publish = Callable[[Event], None]


class Gateway(abc.ABC):
    """Base class of every gateway.

    Subclasses set :attr:`name` (used in the ``gateway`` metric label and ``/readyz``) and
    implement :meth:`run`.  ``connected`` says whether the gateway currently reaches its
    source; the core reports it as ``medlytt_gateway_up``.
    """

    #: Short, stable name, e.g. ``"asterisk"`` or ``"demo"``.
    name: str = "gateway"
    #: A fallback gateway (the demo) runs only when no other gateway is configured.
    fallback: bool = False
    #: A simulated source: its events are not real calls, and the API and metrics say so.
    demo: bool = False

    def __init__(self) -> None:
        self.connected = False

    @abc.abstractmethod
    async def run(self, publish: Publish) -> None:
        """Produce events with ``publish`` until cancelled.

        Set ``self.connected`` while the source is reachable.  Raising ends this run; the
        core logs it and calls ``run`` again after a backoff.  Cancellation is a clean
        stop: release connections in a ``finally`` block.
        """

    def describe(self) -> dict[str, object]:
        """What ``/readyz`` and ``/api/gateways`` show about this gateway."""
        return {"name": self.name, "connected": self.connected, "demo": self.demo}
