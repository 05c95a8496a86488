"""One caller's keypress survey: prompts, keys and time-outs through the call-control port.

The caller's channel is already in Medlytt's control: with Asterisk, the dialplan's
``Stasis(medlytt,survey,${CHANNEL(linkedid)})`` step after ``Queue(...,c...)`` (see
../docs/install-asterisk.md).  For each question:

* the prompt is played on the channel with a playback id of Medlytt's own,
  ``medlytt-srv-<survey>-<n>``;
* a key pressed while it plays stops it (barge-in) and counts;
* after the prompt Medlytt waits ``answer_timeout`` seconds for a key: none is
  ``no_answer``; a key not in the question's ``keys`` plays the prompt once more, and a
  second wrong key is ``invalid``.

When the caller hangs up, the question being asked is ``hung_up`` and the survey
``incomplete``.  After the last question ``thanks`` is played and Medlytt hangs up.
Playbacks are the only objects Medlytt creates; whatever the ending, the one playing is
stopped and the channel hung up, so nothing is left in Asterisk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from medlytt import (
    CallControl,
    CallControlError,
    ChannelEvent,
    ChannelHangupRequested,
    ChannelLeft,
    ChannelNotFound,
    DtmfReceived,
    PlaybackFinished,
)

from .settings import Question, SurveySettings

log = logging.getLogger(__name__)

PREFIX = "medlytt-srv-"
NO_ANSWER, INVALID, HUNG_UP = "no_answer", "invalid", "hung_up"
#: How long a prompt may play: a safety net should Asterisk's PlaybackFinished never come.
PLAY_LIMIT_SECONDS = 120.0


class CallerGone(Exception):
    """The caller hung up (or Medlytt stops and ends the survey)."""


@dataclass
class Outcome:
    """What one survey found out: an answer per question reached, and whether all were."""

    answers: dict[str, str] = field(default_factory=dict)
    completed: bool = False


class SurveyCall:
    """The survey of one caller's channel; feed it channel events, await :meth:`run`."""

    def __init__(
        self, port: CallControl, channel: str, survey_id: str, settings: SurveySettings
    ) -> None:
        self.port = port
        self.channel = channel
        self.survey_id = survey_id
        self.settings = settings
        #: ("key", digit), ("played", playback id) or ("gone", reason), in arrival order.
        self._inbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._playbacks = 0
        self._playing: str | None = None
        self._gone = False

    def on_channel_event(self, event: ChannelEvent) -> None:
        """Take the events about this channel and its playbacks."""
        if isinstance(event, PlaybackFinished):
            if event.playback_id.startswith(f"{PREFIX}{self.survey_id}-"):
                # A prompt cut off by the caller's hang-up ends "failed" too: not worth a word.
                if event.failed and not self._gone:
                    log.warning("surveys: could not play %s (missing sound?)", event.media)
                self._inbox.put_nowait(("played", event.playback_id))
        elif event.channel != self.channel:
            return
        elif isinstance(event, DtmfReceived):
            self._inbox.put_nowait(("key", event.digit))
        elif isinstance(event, ChannelHangupRequested | ChannelLeft):
            self._gone = True
            self._inbox.put_nowait(("gone", event.type))

    def stop(self) -> None:
        """End the survey now (Medlytt stops): it finishes as if the caller hung up."""
        self._inbox.put_nowait(("gone", "Medlytt stopped"))

    async def run(self) -> Outcome:
        """Ask every question; always leaves the channel hung up and no playback running."""
        outcome = Outcome()
        current: str | None = None
        try:
            if self.settings.intro:
                await self._play_through(self.settings.intro)
            for question in self.settings.questions:
                current = question.id
                outcome.answers[question.id] = await self._ask(question)
                current = None
            outcome.completed = True
            if self.settings.thanks:
                await self._play_through(self.settings.thanks)
        except CallerGone:
            if current is not None:
                outcome.answers[current] = HUNG_UP
        except CallControlError as exc:
            log.warning("surveys: survey %s on %s ended: %s", self.survey_id, self.channel, exc)
            if current is not None:
                outcome.answers[current] = HUNG_UP
        finally:
            await self._clean_up()
        return outcome

    async def _ask(self, question: Question) -> str:
        """Prompt, and prompt once more after a wrong key."""
        for _ in range(2):
            key = await self._prompt(question.prompt)
            if key is None:
                return NO_ANSWER
            if key in question.keys:
                return key
        return INVALID

    async def _prompt(self, media: str) -> str | None:
        """Play ``media``; the first key pressed while it plays or within the timeout."""
        playback = await self._play(media)
        key = await self._next(playback, PLAY_LIMIT_SECONDS)
        if key is not None:
            await self._stop_playback()
            return key
        if self._playing is not None:  # PLAY_LIMIT_SECONDS passed
            await self._stop_playback()
        return await self._next(None, self.settings.answer_timeout_seconds)

    async def _play_through(self, media: str) -> None:
        """Play ``media`` to its end; keys pressed meanwhile are ignored."""
        playback = await self._play(media)
        while self._playing is not None and await self._next(playback, PLAY_LIMIT_SECONDS):
            pass
        if self._playing is not None:
            await self._stop_playback()

    async def _play(self, media: str) -> str:
        self._playbacks += 1
        playback = f"{PREFIX}{self.survey_id}-{self._playbacks}"
        try:
            await self.port.play(self.channel, media, playback_id=playback)
        except ChannelNotFound as exc:  # the channel is gone: the caller hung up just now
            raise CallerGone(exc.reason) from None
        self._playing = playback
        return playback

    async def _next(self, playback: str | None, timeout: float) -> str | None:
        """The next key; None when ``playback`` finished or ``timeout`` seconds passed."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    kind, value = await self._inbox.get()
                    if kind == "key":
                        return value
                    if kind == "gone":
                        raise CallerGone(value)
                    if value == self._playing:
                        self._playing = None
                    if value == playback:
                        return None
        except TimeoutError:
            return None

    async def _stop_playback(self) -> None:
        playback, self._playing = self._playing, None
        if playback is not None:
            with contextlib.suppress(CallControlError):  # it may have finished a moment ago
                await self.port.stop_playback(playback)

    async def _clean_up(self) -> None:
        await self._stop_playback()
        with contextlib.suppress(CallControlError):  # gone already when the caller hung up
            await self.port.hang_up(self.channel, missing_ok=True)
