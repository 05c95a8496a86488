"""The ``[desk]`` config section: where the core listens for desks, and which may speak."""

from __future__ import annotations

from typing import Annotated

import msgspec

from .keys import check_public_key

Positive = Annotated[float, msgspec.Meta(gt=0)]


class DeskSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[desk]``: the receiver runs when ``bind`` is set.

    ``allowed_keys`` maps each desk's public key (``medlytt keys`` prints it) to the agent
    id that desk belongs to: a desk is tied to its agent by its key, and a key not listed
    here is refused (``medlytt_desk_refused_total{reason="unknown_key"}``).
    """

    #: The ZeroMQ endpoint the core listens on for desks (``tcp://0.0.0.0:5570``); the
    #: receiver runs when it is set.
    bind: str = ""
    #: The core's key file made by ``medlytt keys`` (the ``.key_secret`` file, mode 0600).
    secret_key_file: str = ""
    #: Each desk's public key (``medlytt keys`` prints it) → the agent id that desk
    #: belongs to; a key not listed here is refused.
    allowed_keys: dict[str, str] = msgspec.field(default_factory=dict)
    #: A desk not heard from for three heartbeats counts as gone (``medlytt_desk_connected``).
    heartbeat_seconds: Positive = 5.0
    #: Desk clocks are trusted up to this far off; beyond it an event keeps the core's time.
    max_clock_skew_seconds: Positive = 300.0
    #: PBX calls kept for the desk join (``GET /api/desk/calls/{id}``), newest first.
    joined_calls: Annotated[int, msgspec.Meta(ge=10, le=1_000_000)] = 10_000

    def __post_init__(self) -> None:
        if not self.bind:
            return
        if not self.bind.startswith(("tcp://", "ipc://")):
            raise ValueError(
                f"desk.bind must be a ZeroMQ endpoint (tcp://HOST:PORT), got {self.bind!r}"
            )
        if not self.secret_key_file:
            raise ValueError("desk.secret_key_file is required when desk.bind is set")
        for key, agent in self.allowed_keys.items():
            check_public_key(key, where=f"desk.allowed_keys ({agent!r})")
            if not agent.strip():
                raise ValueError("desk.allowed_keys: every key must name an agent id")

    @property
    def configured(self) -> bool:
        return bool(self.bind)
