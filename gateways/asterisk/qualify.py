"""Ids that stay unique when several PBXs feed one Medlytt.

Each Asterisk numbers its own channels and names its own queues and members: two sites
can both have a queue ``support``, a member ``PJSIP/1001`` and a call ``1733061234.12``.
A named PBX (``[asterisk.oslo]``) therefore qualifies every id it publishes with its name,
``oslo:support``, ``oslo:PJSIP/1001``, ``oslo:1733061234.12``, and sets ``source`` to its
name, which is also its ``gateway`` label (``medlytt_gateway_up{gateway="oslo"}``).  The
one unnamed ``[asterisk]`` publishes ids as Asterisk gives them, as before.
"""

from __future__ import annotations

import msgspec
from medlytt import Event

#: Event fields that hold an id of the PBX (strings), and tuples of them.
ID_FIELDS = ("call_id", "agent_id", "queue", "from_agent_id", "to_agent_id")
ID_TUPLES = ("queues",)


class Qualifier:
    """Rewrites the events of PBX ``name`` so that their ids are ``name:<id>``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.prefix = f"{name}:"
        self._fields: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def id(self, value: str) -> str:
        return f"{self.prefix}{value}"

    def local(self, value: str) -> str | None:
        """The PBX's own id of a qualified id; None when it belongs to another PBX."""
        return value[len(self.prefix) :] if value.startswith(self.prefix) else None

    def event(self, event: Event) -> Event:
        fields = self._fields.get(type(event))
        if fields is None:
            names = {f.name for f in msgspec.structs.fields(event)}
            fields = self._fields[type(event)] = (
                tuple(n for n in ID_FIELDS if n in names),
                tuple(n for n in ID_TUPLES if n in names),
            )
        plain, tuples = fields
        changes: dict[str, object] = {"source": self.name}
        for name in plain:
            value = getattr(event, name)
            if isinstance(value, str):
                changes[name] = self.prefix + value
        for name in tuples:
            value = getattr(event, name)
            if value is not None:
                changes[name] = tuple(self.prefix + v for v in value)
        return msgspec.structs.replace(event, **changes)
