"""A plugin that raises on every event."""

from medlytt import hookimpl


@hookimpl
def medlytt_event(event):
    raise RuntimeError(f"failing plugin cannot handle {event.type}")
