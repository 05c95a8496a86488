"""What a mystery call or campaign request may contain, and how it is checked.

Requests arrive as JSON (API, CLI) or as objects (plugins); both end up as these structs.
Every check that fails raises :class:`RequestError` with a message naming the field, which
the API returns as 422.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

import msgspec

from .schedule import BusinessHours, ScheduleError, check_window, parse_cron

if TYPE_CHECKING:
    from medlytt import LiveState

    from .settings import MysterySettings

Seconds = Annotated[float, msgspec.Meta(ge=0, le=86_400)]
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
NUMBER = re.compile(r"^[0-9*#+]{1,32}$")
DTMF = re.compile(r"^[0-9A-D*#]{1,32}$")
#: An Asterisk media URI; a sound or recording name never climbs out of Asterisk's sounds
#: folder (no ``..`` part, no absolute path).
MEDIA = re.compile(
    r"^(sound|tone|recording|digits|number|characters):(?!/)(?!(?:\S*/)?\.\.(?:/|$))\S+$"
)
OUTCOMES = ("answered", "abandoned", "busy", "failed", "no_answer")


class RequestError(ValueError):
    """A request that cannot be served as given; the message names the field."""


class Step(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One step of a scripted caller: play a sound, wait, or press keys."""

    play: str | None = None
    wait: Seconds | None = None
    dtmf: str | None = None

    def check(self, where: str) -> None:
        given = [k for k in ("play", "wait", "dtmf") if getattr(self, k) is not None]
        if len(given) != 1:
            raise RequestError(f'{where}: give exactly one of "play", "wait", "dtmf"')
        if self.play is not None and not MEDIA.match(self.play):
            raise RequestError(
                f"{where}.play: {self.play!r} is not an Asterisk media URI "
                '(e.g. "sound:hello-world", "tone:440/2000", "recording:greeting")'
            )
        if self.dtmf is not None and not DTMF.match(self.dtmf):
            raise RequestError(f"{where}.dtmf: {self.dtmf!r} is not a string of 0-9 A-D * #")


class CallSpec(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One mystery call: where it goes, who or what calls, and how long it waits."""

    queue: str | None = None
    number: str | None = None
    mode: Literal["scripted", "human"] = "scripted"
    #: Human mode: the tester's phone (a dialable endpoint such as ``PJSIP/1001``).
    tester: str | None = None
    caller_id: str | None = None
    #: Played as soon as the line answers (greeting, IVR navigation).
    script: list[Step] = msgspec.field(default_factory=list)
    #: Played once an agent is connected.
    after_answer: list[Step] = msgspec.field(default_factory=list)
    #: Scripted: hang up when no human answered within this many seconds of the line answering.
    patience_seconds: Seconds | None = None
    #: Scripted: hang up this long after the agent answered (default: the agent hangs up).
    talk_seconds: Seconds | None = None
    #: A supervisor endpoint that listens live (monitoring) once an agent answers.
    listen: str | None = None


class CallRequest(CallSpec, forbid_unknown_fields=True, omit_defaults=True):
    """``POST /api/mystery-calls``: a call, optionally counted under a campaign."""

    campaign: str | None = None


class CampaignRequest(CallSpec, forbid_unknown_fields=True, omit_defaults=True):
    """``POST /api/mystery-campaigns``: calls on a cron schedule or N calls in a window."""

    name: str = ""
    #: Cron expression (5 fields; a 6th is seconds) in the campaign's time zone.
    schedule: str | None = None
    #: Instead of a schedule: this many calls at random moments between starts_at and ends_at.
    calls: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    #: Each firing is moved by a random 0..spread_seconds, so agents cannot predict it.
    spread_seconds: Seconds = 0.0
    #: When calls may be placed: ``{"mon-fri": "08:00-16:00"}``; empty: any time.
    business_hours: dict[str, str] = msgspec.field(default_factory=dict)
    time_zone: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None


def check_call(spec: CallSpec, settings: MysterySettings, state: LiveState) -> tuple[str, str]:
    """Check a call spec; return ``(target, number to dial)``.  ``target`` is
    ``queue:<name>`` or ``number:<digits>``, the key of the per-target rate limit."""
    if (spec.queue is None) == (spec.number is None):
        raise RequestError('give exactly one of "queue" or "number"')
    if spec.queue is not None:
        known = spec.queue in state.queues or spec.queue in settings.queue_numbers
        if not known:
            raise RequestError(f"queue: unknown queue {spec.queue!r}")
        number = settings.queue_numbers.get(spec.queue)
        if number is None:
            raise RequestError(
                f"queue: {spec.queue!r} has no number in [mystery_calls] queue_numbers, "
                "so a customer's route to it is unknown"
            )
        target = f"queue:{spec.queue}"
    else:
        assert spec.number is not None
        if not NUMBER.match(spec.number):
            raise RequestError(f"number: {spec.number!r} is not a dialable number (0-9 * # +)")
        number, target = spec.number, f"number:{spec.number}"
    if spec.mode == "human":
        if not spec.tester:
            raise RequestError('tester: mode "human" needs the tester\'s phone endpoint')
        if spec.script or spec.after_answer:
            raise RequestError('script: a human tester speaks; give no script in mode "human"')
    elif spec.tester:
        raise RequestError('tester: only mode "human" rings a tester')
    for name in ("script", "after_answer"):
        for index, step in enumerate(getattr(spec, name)):
            step.check(f"{name}[{index}]")
    if spec.caller_id is not None and not spec.caller_id.strip():
        raise RequestError("caller_id: empty")
    return target, number


def check_campaign(
    request: CampaignRequest, settings: MysterySettings, state: LiveState, now: datetime
) -> BusinessHours:
    """Check a campaign request; return its business hours."""
    if not NAME.match(request.name):
        raise RequestError(
            f"name: {request.name!r} must be 1-63 characters of a-z, 0-9, '-' and '_'"
        )
    check_call(request, settings, state)
    if (request.schedule is None) == (request.calls is None):
        raise RequestError('give exactly one of "schedule" (cron) or "calls" (a number)')
    try:
        if request.schedule is not None:
            request.schedule = parse_cron(request.schedule)
        hours = BusinessHours.parse(request.business_hours, request.time_zone or settings.time_zone)
        check_window(request.starts_at, request.ends_at, now)
    except ScheduleError as exc:
        raise RequestError(str(exc)) from None
    if request.calls is not None and request.ends_at is None:
        raise RequestError('ends_at: "calls" spreads calls over a window and needs its end')
    return hours
