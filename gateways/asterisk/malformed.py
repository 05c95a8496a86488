"""Messages from Asterisk the gateway cannot use: rejected and counted, never guessed at.

A block of AMI lines that are not all ``Key: Value``, a WebSocket frame that is not a JSON
object, an event without the id or number it is about: translating such a message with
defaults (an empty id, a wait of 0) would publish a wrong event.  The AMI reader, the ARI
event reader and both translators drop it instead and report it through a :data:`Reject`
callback; the gateway counts it in ``Gateway.rejected``
(``medlytt_gateway_messages_rejected_total``) and logs it with :class:`RejectLog`.

What is ignored is not rejected: events of kinds Medlytt does not use (AMI sends hundreds),
or about channels and calls it does not follow, are well formed and simply not for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

#: How a reader or translator reports a message it dropped: ``(kind, what is wrong)``.
#: ``kind`` is a fixed name such as ``"AMI AgentConnect"``; the description names fields,
#: never their values, which may hold anything (a caller's number, a channel variable).
Reject = Callable[[str, str], None]


class Malformed(ValueError):
    """Raised inside a translator for a message it cannot use; it is rejected, not raised on."""


class RejectLog:
    """Logs rejected messages: the first of each kind at WARNING, later ones at DEBUG.

    A PBX that keeps sending a broken message then fills no log, and the counter still
    tells how many there were.  Kinds are fixed names, so the set of those seen stays small.
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self.seen: set[str] = set()

    def __call__(self, kind: str, detail: str) -> None:
        if kind in self.seen:
            log.debug("%s: dropped a malformed %s message: %s", self.where, kind, detail)
            return
        self.seen.add(kind)
        log.warning(
            "%s: dropped a malformed %s message: %s (counted in "
            "medlytt_gateway_messages_rejected_total; more of this kind are logged at DEBUG)",
            self.where,
            kind,
            detail,
        )
