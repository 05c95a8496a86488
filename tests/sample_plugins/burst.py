"""Publishes ``[burst] count`` events right after start (journal durability test)."""

import msgspec
from medlytt import hookimpl
from medlytt.events import TalkStarted


class Settings(msgspec.Struct, forbid_unknown_fields=True):
    count: int = 1000


@hookimpl
def medlytt_config_schema():
    return Settings


@hookimpl
def medlytt_startup(app):
    from medlytt.clock import utcnow

    for i in range(app.plugin_config("burst").count):
        app.publish(TalkStarted(at=utcnow(), source="burst", call_id=f"burst-{i}", leg="caller"))
