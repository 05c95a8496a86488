"""The ``[softphone]`` config section: baresips the core talks to, webhook desks."""

from __future__ import annotations

from typing import Annotated

import msgspec

from .baresip import parse_address

Positive = Annotated[float, msgspec.Meta(gt=0)]
MIN_TOKEN = 24


class BaresipPhone(msgspec.Struct, forbid_unknown_fields=True):
    """``[[softphone.baresip]]``: one baresip whose ctrl_tcp the core reaches itself."""

    #: baresip's ctrl_tcp address, ``HOST:PORT`` (``127.0.0.1:4444``).
    address: str
    #: The agent id (queue member interface, ``PJSIP/1001``) whose phone this is.
    agent: str

    def __post_init__(self) -> None:
        parse_address(self.address)
        if not self.agent.strip():
            raise ValueError("softphone.baresip: agent must name the agent id (PJSIP/1001)")


class WebhookDesk(msgspec.Struct, forbid_unknown_fields=True):
    """``[[softphone.webhook]]``: a softphone that calls Medlytt's URL on call events.

    ``token`` is the secret part of that URL (``/api/softphone/hooks/TOKEN``): the phone
    proves with it which agent's phone it is.  Give it by reference
    (``token = { "$env" = "DESK_1001_TOKEN" }``); ``medlytt keys`` does not make it, any
    random string of 24 characters or more does (``openssl rand -hex 24``).
    """

    #: The agent id (queue member interface, ``PJSIP/1001``) whose phone this is.
    agent: str
    #: The secret part of the phone's URL (``/api/softphone/hooks/TOKEN``), 24 characters or
    #: more (a secret: give it by reference).
    token: str

    def __post_init__(self) -> None:
        if not self.agent.strip():
            raise ValueError("softphone.webhook: agent must name the agent id (PJSIP/1001)")
        if len(self.token) < MIN_TOKEN or not self.token.isprintable() or "/" in self.token:
            raise ValueError(
                f"softphone.webhook token of agent {self.agent!r} must be at least "
                f"{MIN_TOKEN} printable characters without '/'"
            )


class SoftphoneSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[softphone]``: nothing runs until a baresip or a webhook desk is listed."""

    baresip: list[BaresipPhone] = msgspec.field(default_factory=list)
    webhook: list[WebhookDesk] = msgspec.field(default_factory=list)
    #: Seconds to wait for baresip to answer a command.
    command_timeout_seconds: Positive = 5.0

    def __post_init__(self) -> None:
        agents = [p.agent for p in self.baresip]
        if len(set(agents)) != len(agents):
            raise ValueError("softphone.baresip: one baresip per agent")
        tokens = [w.token for w in self.webhook]
        if len(set(tokens)) != len(tokens):
            raise ValueError("softphone.webhook: every desk needs a token of its own")
