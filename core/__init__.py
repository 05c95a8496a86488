"""Medlytt: listen to a contact center's calls and coach its agents.

The import package ``medlytt`` is the core: the event model, the live state, the plugin
host, storage, the HTTP server and the CLI.  Everything a user sees as a feature lives in
a plugin (``medlytt.plugins``) or a gateway (``medlytt.gateways``) registered through the
``medlytt`` entry-point group, exactly as a third-party plugin would be.
"""

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

import pluggy

try:
    __version__ = version("medlytt")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

#: Decorate plugin functions with this to implement a hook from :mod:`medlytt.hookspecs`.
hookimpl = pluggy.HookimplMarker("medlytt")

F = TypeVar("F", bound=Callable[..., Any])


def listens_to(*event_types: type) -> Callable[[F], F]:
    """Deliver only events of these types (or subclasses) to this ``medlytt_event``.

    Every other event skips the plugin's mailbox entirely: a plugin that reacts to three
    event types costs the event bus nothing for the rest (docs/plugins.md)::

        @hookimpl
        @listens_to(CallAnswered, CallEnded)
        def medlytt_event(event, app): ...
    """
    if not event_types or not all(isinstance(t, type) for t in event_types):
        raise TypeError("listens_to() takes one or more event classes")

    def mark(function: F) -> F:
        function.medlytt_event_types = event_types  # type: ignore[attr-defined]
        return function

    return mark


__all__ = ["__version__", "hookimpl", "listens_to"]
