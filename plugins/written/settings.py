"""``[written]``: what is kept of a submitted text."""

from __future__ import annotations

from typing import Annotated

import msgspec


class WrittenSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[written]``: every key has a default; texts are scored only for agents whose team
    has the module on (``PUT /api/teams/{team}/modules/written-communication``), see
    docs/written-communication.md."""

    #: Keep the text itself beside its scores.  Off by default: e-mails and case notes
    #: hold customers' names, addresses and errands, and the scores need none of it.
    #: Without the text, a row keeps the scores and the text's SHA-256 only.
    keep_text: bool = False
    #: The longest text accepted, in characters (a letter is a few thousand).
    max_characters: Annotated[int, msgspec.Meta(ge=100, le=1_000_000)] = 50_000
