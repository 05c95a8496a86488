"""``[surveys]``: the questions a caller hears and which queues' callers are asked.

Everything is checked when Medlytt starts, so a typo in a prompt or a key list stops
Medlytt with a message naming the key instead of confusing a caller later.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec
from medlytt import PositiveInt

#: At most three questions: a keypad survey after a call must stay short to be answered.
MAX_QUESTIONS = 3
#: Media URI schemes Asterisk plays on a channel (ARI ``POST /channels/{id}/play``).
MEDIA_SCHEMES = ("sound:", "recording:", "tone:", "digits:", "number:", "characters:")
#: Question ids become Prometheus label values and JSON keys: keep them plain.
_QUESTION_ID = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def check_media(value: str, what: str) -> None:
    """Raise :class:`ValueError` unless ``value`` is a media URI Asterisk can play."""
    scheme = next((s for s in MEDIA_SCHEMES if value.startswith(s)), None)
    if scheme is None or len(value) == len(scheme):
        schemes = ", ".join(MEDIA_SCHEMES)
        raise ValueError(
            f"{what} must be an Asterisk media URI such as 'sound:hello-world' "
            f"(starting with one of {schemes}), got {value!r}"
        )
    name = value[len(scheme) :]
    if name.startswith("/") or ".." in name.split("/"):
        raise ValueError(f"{what} must name a sound inside Asterisk's sounds, got {value!r}")


class Question(msgspec.Struct, forbid_unknown_fields=True):
    """One question: its prompt and the keys that answer it."""

    #: Label-safe name, e.g. ``satisfaction``: the ``question`` label and the API's key.
    id: str
    #: What the caller hears, e.g. ``sound:custom/rate-1-to-5``.
    prompt: str
    #: The valid keys, e.g. ``12345`` for a 1-5 scale or ``12`` for yes (1) / no (2).
    keys: str = "12345"

    def __post_init__(self) -> None:
        if not _QUESTION_ID.match(self.id):
            raise ValueError(
                "id must start with a lower-case letter and contain only a-z, 0-9 and _ "
                f"(at most 32 characters), got {self.id!r}"
            )
        check_media(self.prompt, "prompt")
        if not self.keys:
            raise ValueError('keys must list at least one digit, e.g. "12345"')
        if not all(key in "0123456789" for key in self.keys):
            raise ValueError(f'keys must be digits 0-9 only, e.g. "12345"; got {self.keys!r}')
        if len(set(self.keys)) != len(self.keys):
            raise ValueError(f"keys must not repeat a digit, got {self.keys!r}")


class QueueSampling(msgspec.Struct, forbid_unknown_fields=True):
    """Which callers of one queue are offered the survey."""

    #: 1: every caller; 5: the first caller, then every 5th.
    every: PositiveInt = 1


class SurveySettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[surveys]``: with no queue listed, nobody is surveyed."""

    #: One to three questions, asked in order.
    questions: Annotated[list[Question], msgspec.Meta(max_length=MAX_QUESTIONS)] = msgspec.field(
        default_factory=list
    )
    #: Queue name → sampling; a queue not listed is never surveyed.
    queues: dict[str, QueueSampling] = msgspec.field(default_factory=dict)
    #: How long to wait for a key after a prompt has finished.
    answer_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 8.0
    #: Played once before the first question (keys pressed during it are ignored).
    intro: str | None = None
    #: Played after the last answer, before Medlytt hangs up.
    thanks: str | None = None

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for question in self.questions:
            if question.id in seen:
                raise ValueError(f"questions: the id {question.id!r} is used twice")
            seen.add(question.id)
        if self.queues and not self.questions:
            raise ValueError(
                f"queues {', '.join(sorted(self.queues))} are to be surveyed but there are no "
                f"questions: add 1 to {MAX_QUESTIONS} [[surveys.questions]] tables"
            )
        for name in ("intro", "thanks"):
            value = getattr(self, name)
            if value is not None:
                check_media(value, name)
