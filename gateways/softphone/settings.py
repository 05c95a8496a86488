"""The ``[softphone]`` config section: baresips the core talks to, webhook desks."""

from __future__ import annotations

from typing import Annotated

import msgspec

from .baresip import parse_address

Positive = Annotated[float, msgspec.Meta(gt=0)]
MIN_TOKEN = 24


class BaresipPhone(msgspec.Struct, forbid_unknown_fields=True):
    """``[softphone.baresip."PJSIP/1001"]``: the baresip of that agent, whose ctrl_tcp the
    core reaches itself."""

    #: baresip's ctrl_tcp address, ``HOST:PORT`` (``127.0.0.1:4444``).
    address: str

    def __post_init__(self) -> None:
        parse_address(self.address)


class WebhookDesk(msgspec.Struct, forbid_unknown_fields=True):
    """``[softphone.webhook."PJSIP/1001"]``: that agent's softphone calls Medlytt's URL on
    call events.

    ``token`` is the secret part of that URL (``/api/softphone/hooks/TOKEN``): the phone
    proves with it which agent's phone it is.  Give it by reference
    (``token = { "$env" = "MEDLYTT_DESK_1001_TOKEN" }``); any random string of 24
    characters or more will do (``openssl rand -hex 24``).
    """

    #: The secret part of the phone's URL, 24 characters or more (give it by reference).
    token: str

    def __post_init__(self) -> None:
        if len(self.token) < MIN_TOKEN or not self.token.isprintable() or "/" in self.token:
            raise ValueError(
                f"a softphone.webhook token must be at least {MIN_TOKEN} printable "
                "characters without '/'"
            )


class SoftphoneSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[softphone]``: nothing runs until a baresip or a webhook desk is listed, each
    under its agent id (the queue member interface, ``PJSIP/1001``)."""

    baresip: dict[str, BaresipPhone] = msgspec.field(default_factory=dict)
    webhook: dict[str, WebhookDesk] = msgspec.field(default_factory=dict)
    #: Seconds to wait for baresip to answer a command.
    command_timeout_seconds: Positive = 5.0

    def __post_init__(self) -> None:
        for table in (self.baresip, self.webhook):
            if any(not agent.strip() for agent in table):
                raise ValueError("softphone: every baresip and webhook is named by an agent id")
        tokens = [w.token for w in self.webhook.values()]
        if len(set(tokens)) != len(tokens):
            raise ValueError("softphone.webhook: every desk needs a token of its own")
