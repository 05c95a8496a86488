"""Which callers are surveyed, running their surveys, and what is kept of them.

The dialplan sends every caller whose agent hung up first, and every caller whose queue
timed out, into Medlytt's control (Asterisk: its Stasis application) with the role
``survey`` and the call's id.
The service surveys the caller when the call was answered by an agent in a queue listed in
``[surveys] queues`` and the caller is that queue's next sampled one; every other channel
is sent straight back to the dialplan (``continue``), so the site's dialplan goes on.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter, OrderedDict
from typing import TYPE_CHECKING, Any

from medlytt import (
    CallAnswered,
    CallControl,
    CallControlError,
    ChannelEntered,
    ChannelEvent,
    utcnow,
)

from . import store
from .events import SurveyFinished
from .settings import SurveySettings
from .survey import SurveyCall

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from medlytt import Medlytt

log = logging.getLogger(__name__)
SOURCE = "surveys"
#: The Stasis role of the dialplan hook: ``Stasis(medlytt,survey,${CHANNEL(linkedid)})``.
ROLE = "survey"
#: Answered calls remembered until their caller reaches the survey step.  The live state
#: forgets a call at ``call.ended``, which usually comes before the caller's StasisStart.
ANSWERED_MEMORY = 2000


class Sampler:
    """Per queue: the first caller, then every ``every``-th one (counted since start)."""

    def __init__(self, settings: SurveySettings) -> None:
        self.settings = settings
        self.seen: Counter[str] = Counter()

    def take(self, queue: str) -> bool:
        """Count one caller of ``queue``; True when this caller is to be surveyed."""
        sampling = self.settings.queues.get(queue)
        if sampling is None:
            return False
        chosen = self.seen[queue] % sampling.every == 0
        self.seen[queue] += 1
        return chosen


class SurveyService:
    """The surveys of one Medlytt, on every gateway with call control."""

    def __init__(self, app: Medlytt, settings: SurveySettings) -> None:
        self.app = app
        self.settings = settings
        self.sampler = Sampler(settings)
        #: call_id → (queue, agent_id) of recently answered calls, oldest first.
        self.answered: OrderedDict[str, tuple[str, str]] = OrderedDict()
        #: Surveys in progress by the caller's channel id.
        self.active: dict[str, SurveyCall] = {}
        #: (queue, question, answer) → count, and (queue, result) → count, for /metrics.
        self.responses: Counter[tuple[str, str, str]] = Counter()
        self.surveys: Counter[tuple[str, str]] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        #: Call ids of mystery calls (``mystery_call.started``): never surveyed.
        self.mystery_calls: set[str] = set()
        #: The ports the surveys in progress run on, by caller channel id.
        self._ports: dict[str, CallControl] = {}
        for port in app.call_controls():
            port.claim(ROLE)

    def remember(self, event: CallAnswered) -> None:
        self.answered[event.call_id] = (event.queue, event.agent_id)
        self.answered.move_to_end(event.call_id)
        while len(self.answered) > ANSWERED_MEMORY:
            self.answered.popitem(last=False)

    def answered_by(self, call_id: str) -> tuple[str, str] | None:
        """``(queue, agent_id)`` when an agent answered the call, else None."""
        found = self.answered.pop(call_id, None)
        if found is not None:
            return found
        call = self.app.state.calls.get(call_id)  # not ended yet, or our events lag behind
        if call is not None and call.queue and call.agent_id:
            return call.queue, call.agent_id
        return None

    def on_channel_event(self, event: ChannelEvent, port: CallControl) -> None:
        for survey in list(self.active.values()):
            if survey.port is port:
                survey.on_channel_event(event)
        if isinstance(event, ChannelEntered) and event.role == ROLE:
            self._spawn(self._arrived(event, port))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("surveys: a survey failed", exc_info=task.exception())

    async def _arrived(self, event: ChannelEntered, port: CallControl) -> None:
        """A caller reached the survey step: survey them, or send them on."""
        channel = event.channel
        call_id = port.call_id(event.args[0]) if event.args else ""  # "oslo:..." if named
        answered = self.answered_by(call_id) if call_id else None
        if call_id in self.mystery_calls:
            self.mystery_calls.discard(call_id)
            answered = None
        if answered is None or not self.sampler.take(answered[0]):
            log.debug("surveys: %s (call %r) not surveyed; continuing", channel, call_id)
            await self._continue(port, channel)
            return
        queue, agent_id = answered
        await self._survey(port, channel, call_id, queue, agent_id)

    async def _continue(self, port: CallControl, channel: str) -> None:
        try:
            await port.continue_in_dialplan(channel)
        except CallControlError as exc:  # usually: the caller hung up meanwhile
            log.debug("surveys: could not continue %s: %s", channel, exc)

    async def _survey(
        self, port: CallControl, channel: str, call_id: str, queue: str, agent_id: str
    ) -> None:
        survey_id = secrets.token_hex(6)
        started = utcnow()
        self.surveys[(queue, "offered")] += 1
        call = SurveyCall(port, channel, survey_id, self.settings)
        self.active[channel] = call
        try:
            outcome = await call.run()
        finally:
            self.active.pop(channel, None)
        result = "completed" if outcome.completed else "incomplete"
        row = {
            "id": survey_id,
            "call_id": call_id,
            "queue": queue,
            "agent_id": agent_id,
            "started_at": started.isoformat(),
            "finished_at": utcnow().isoformat(),
            "result": result,
        }
        await self.app.storage.run(lambda db: store.save_survey(db, row, outcome.answers))
        self.surveys[(queue, result)] += 1
        for question, answer in outcome.answers.items():
            self.responses[(queue, question, answer)] += 1
        self.app.publish(
            SurveyFinished(
                at=utcnow(),
                source=SOURCE,
                survey_id=survey_id,
                call_id=call_id,
                queue=queue,
                agent_id=agent_id,
                result=result,
                answers=dict(outcome.answers),
            )
        )

    async def stop_all(self) -> None:
        """End the surveys in progress (each is stored as incomplete) and wait for them.

        Medlytt's gateways have stopped by now; the port still reaches the PBX for the
        hang-ups (a request needs no event connection).
        """
        if not self._tasks:
            return
        for survey in self.active.values():
            survey.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
