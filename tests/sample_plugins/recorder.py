"""A plugin that records every event it receives, per application."""

from medlytt import hookimpl


@hookimpl
def medlytt_event(event, app):
    app.plugin_state.setdefault("recorder", []).append(event)
