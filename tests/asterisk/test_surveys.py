"""Post-call keypress surveys against a real Asterisk: the caller's keys travel as DTMF.

The test plays the caller: it originates ``Local/500@phones/n`` into an ARI application
of its own.  The ``-phone`` half is the caller's handset, held by the test, which presses
keys with ``POST /channels/{id}/dtmf``; the ``-line`` half runs the sandbox dialplan
(``Queue(support,c...)`` then ``Stasis(medlytt,survey,${CHANNEL(linkedid)})``), where
Medlytt surveys it after the agent hangs up first.  The test's application is subscribed
to every event, so it sees Medlytt's playbacks start and answers them like a caller would.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlite_utils
from medlytt import auth
from medlytt.gateways.asterisk.ari import AriClient, AriError
from medlytt.testing import TestMedlytt, running_medlytt, wait_until

TEST_APP = "survey-test"
PROMPT_LONG = "sound:vm-options"  # 16 s: only barge-in answers it quickly
PROMPT_SHORT = "sound:beep"
THANKS = "sound:auth-thankyou"

SURVEY = {
    "surveys": {
        "questions": [
            {"id": "satisfaction", "prompt": PROMPT_LONG},
            {"id": "resolved", "prompt": PROMPT_SHORT, "keys": "12"},
        ],
        "queues": {"support": {"every": 1}},
        "answer_timeout_seconds": 3,
        "thanks": THANKS,
    }
}


class Caller:
    """One test caller: places the call, watches events, presses keys, hangs up."""

    def __init__(self, section: dict[str, Any]) -> None:
        self.ari = AriClient(section["ari_url"], section["ari_user"], section["ari_password"])
        tag = secrets.token_hex(4)
        self.phone = f"srvtest-{tag}-phone"
        self.line = f"srvtest-{tag}-line"
        self.events: list[dict[str, Any]] = []
        self._reader: asyncio.Task[None] | None = None
        self._ws: Any = None

    async def __aenter__(self) -> Caller:
        self._ws = await self.ari.open_events([TEST_APP])
        await self.ari.subscribe(TEST_APP)  # the survey's channels are not in TEST_APP
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for event in self.ari.iter_events(self._ws):
            self.events.append(event)

    async def __aexit__(self, *exc: object) -> None:
        for channel in (self.phone, self.line):
            with contextlib.suppress(AriError):  # gone already, as it should be
                await self.ari.request("DELETE", f"/channels/{channel}")
        await wait_until(lambda: self.gone(self.phone) and self.gone(self.line), timeout=10)
        assert self._reader is not None
        self._reader.cancel()
        await self._ws.close()
        await self.ari.close()

    async def call(self, extension: str = "500", **variables: str) -> None:
        """Call a queue; the agent talks 1 s and hangs up first (unless told otherwise)."""
        await self.ari.request(
            "POST",
            "/channels",
            params={
                "endpoint": f"Local/{extension}@phones/n",
                "app": TEST_APP,
                "appArgs": "caller",
                "channelId": self.phone,
                "otherChannelId": self.line,
                "timeout": 10,
                "callerId": "Survey test <4790000>",
            },
            body={"variables": {"__MEDLYTT_TALK": "1", "__MEDLYTT_RING": "0.2", **variables}},
        )

    async def press(self, key: str) -> None:
        await self.ari.request("POST", f"/channels/{self.phone}/dtmf", params={"dtmf": key})

    async def hang_up(self) -> None:
        await self.ari.request("DELETE", f"/channels/{self.phone}")

    def find(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [event for event in self.events if predicate(event)]

    async def prompt(self, media: str, after: set[str], timeout: float = 20) -> str:
        """Wait until a new playback of ``media`` starts on the line; return its id."""

        def started() -> str | None:
            for event in self.find(lambda e: e["type"] == "PlaybackStarted"):
                playback = event["playback"]
                if (
                    playback["target_uri"] == f"channel:{self.line}"
                    and playback["media_uri"] == media
                    and playback["id"] not in after
                ):
                    return playback["id"]
            return None

        return await wait_until(started, timeout=timeout, what=f"{media} starts")

    def playbacks(self) -> set[str]:
        return {e["playback"]["id"] for e in self.find(lambda e: e["type"] == "PlaybackStarted")}

    def gone(self, channel: str) -> bool:
        return bool(
            self.find(lambda e: e["type"] == "ChannelDestroyed" and e["channel"]["id"] == channel)
        )

    def reached_survey_step(self) -> float | None:
        """When the line reached ``Stasis(medlytt,survey,...)`` (the time it is seen)."""
        found = self.find(
            lambda e: (
                e["type"] == "ChannelDialplan"
                and e["channel"]["id"] == self.line
                and e.get("dialplan_app") == "Stasis"
            )
        )
        return time.monotonic() if found else None


async def finished(app: TestMedlytt) -> list[Any]:
    """The ``survey.finished`` events, once there is one (published after storing)."""

    def events() -> list[Any]:
        return [e for e in app.plugin_state["recorder"] if e.type == "survey.finished"]

    return await wait_until(events, timeout=5, what="survey.finished")


def make_user(app: TestMedlytt, name: str, role: str, agent_id: str | None = None) -> str:
    def create(db: Any) -> str:
        auth.add_user(db, name, role, agent_id=agent_id)
        return auth.create_token(db, name)[1]

    return app.storage.run_sync(create)


@pytest.fixture
async def client(app, medlytt_client):
    return await medlytt_client(app, role=None)  # each request brings its own token


async def surveys_of(client, token: str, **query: str) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/surveys", params=query, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 200, await response.text()
    return (await response.json())["surveys"]


async def nothing_left(caller: Caller) -> None:
    """No channel of the call, no playback Medlytt started: all gone from Asterisk."""
    await wait_until(lambda: caller.gone(caller.phone) and caller.gone(caller.line), timeout=10)
    channels = await caller.ari.request("GET", "/channels")
    assert not [c["id"] for c in channels if c["id"] in (caller.phone, caller.line)]
    assert not await caller.ari.request("GET", "/bridges")
    for playback in caller.playbacks():
        with pytest.raises(AriError) as info:
            await caller.ari.request("GET", f"/playbacks/{playback}")
        assert info.value.status == 404


@pytest.mark.medlytt_sections(SURVEY)
async def test_caller_answers_by_keypad_after_the_agent_hangs_up(app, client, asterisk_sandbox):
    admin = make_user(app, "ada", "admin")
    async with Caller(asterisk_sandbox.asterisk_section) as caller:
        await caller.call("500")
        first = await caller.prompt(PROMPT_LONG, set())
        await caller.press("4")  # while the 16 s prompt plays: barge-in
        pressed = time.monotonic()
        second = await caller.prompt(PROMPT_SHORT, {first}, timeout=5)
        assert time.monotonic() - pressed < 3, "the key did not stop the prompt"
        await caller.press("7")  # not one of "12": the prompt comes again, once
        await caller.prompt(PROMPT_SHORT, {first, second}, timeout=5)
        await caller.press("1")
        await caller.prompt(THANKS, caller.playbacks(), timeout=5)
        await nothing_left(caller)  # Medlytt hung up after the thanks
        await finished(app)
    [survey] = await surveys_of(client, admin)
    assert survey["answers"] == {"satisfaction": "4", "resolved": "1"}
    assert survey["result"] == "completed"
    assert survey["queue"] == "support"
    assert survey["call_id"] == caller.phone  # the linkedid: the gateway's call id
    agent = survey["agent_id"]
    assert agent in ("Local/agent1@agents/n", "Local/agent2@agents/n")

    labels = {"queue": "support", "question": "satisfaction", "answer": "4"}
    assert app.metric("medlytt_survey_responses_total", labels) == 1
    labels = {"queue": "support", "question": "resolved", "answer": "1"}
    assert app.metric("medlytt_survey_responses_total", labels) == 1
    labels = {"queue": "support", "question": "resolved", "answer": "invalid"}
    assert app.metric("medlytt_survey_responses_total", labels) == 0
    assert app.metric("medlytt_surveys_total", {"queue": "support", "result": "offered"}) == 1
    assert app.metric("medlytt_surveys_total", {"queue": "support", "result": "completed"}) == 1

    # The agent sees their own score, nobody else's.
    own = make_user(app, "agnes", "agent", agent_id=agent)
    other = make_user(app, "otto", "agent", agent_id="Local/agent9@agents/n")
    response = await client.get("/api/surveys/scores", headers={"Authorization": f"Bearer {own}"})
    assert (await response.json())["scores"] == [
        {
            "agent_id": agent,
            "surveys": 1,
            "completed": 1,
            "questions": {
                "resolved": {"answers": 1, "mean": 1.0},
                "satisfaction": {"answers": 1, "mean": 4.0},
            },
        }
    ]
    assert await surveys_of(client, other) == []
    assert [(e.result, e.answers, e.agent_id) for e in await finished(app)] == [
        ("completed", {"satisfaction": "4", "resolved": "1"}, agent)
    ]


@pytest.mark.medlytt_sections(SURVEY)
async def test_a_caller_who_hangs_up_during_the_survey_is_incomplete(app, client, asterisk_sandbox):
    admin = make_user(app, "ada", "admin")
    async with Caller(asterisk_sandbox.asterisk_section) as caller:
        await caller.call("500")
        first = await caller.prompt(PROMPT_LONG, set())
        await caller.press("5")
        await caller.prompt(PROMPT_SHORT, {first}, timeout=5)
        await caller.hang_up()
        await nothing_left(caller)
    assert [e.result for e in await finished(app)] == ["incomplete"]
    [survey] = await surveys_of(client, admin, queue="support")
    assert survey["answers"] == {"satisfaction": "5", "resolved": "hung_up"}
    assert app.metric("medlytt_surveys_total", {"queue": "support", "result": "incomplete"}) == 1
    labels = {"queue": "support", "question": "resolved", "answer": "hung_up"}
    assert app.metric("medlytt_survey_responses_total", labels) == 1


@pytest.mark.medlytt_sections(SURVEY)
@pytest.mark.parametrize(
    ("extension", "variables"),
    [
        ("501", {}),  # sales: not a surveyed queue
        ("500", {"__MEDLYTT_MAXWAIT": "1", "__MEDLYTT_ANSWER": "no"}),  # timed out, unanswered
    ],
    ids=["queue-not-surveyed", "queue-timed-out"],
)
async def test_callers_not_to_survey_go_back_to_the_dialplan(
    app, asterisk_sandbox, extension, variables
):
    async with Caller(asterisk_sandbox.asterisk_section) as caller:
        await caller.call(extension, **variables)
        await wait_until(caller.reached_survey_step, timeout=20)
        # Continued into the dialplan's Hangup(): gone (the timeout only allows for a loaded
        # machine; a survey would keep the line for its prompts and DTMF timeouts), and no
        # prompt started before the line was destroyed.
        await wait_until(lambda: caller.gone(caller.phone), timeout=10, what="the line gone")
        assert not caller.playbacks()
    assert app.gateways[0].control.claimed("survey")  # continued by the plugin, on purpose
    assert app.storage.run_sync(lambda db: db["survey_responses"].count) == 0
    assert app.metric("medlytt_surveys_total", {"queue": "support", "result": "offered"}) == 0
    assert not app.plugin_state["surveys"].active


async def test_medlytt_stopping_mid_survey_hangs_up_and_keeps_the_answers(
    asterisk_sandbox, tmp_path
):
    sections = {"asterisk": asterisk_sandbox.asterisk_section, **SURVEY}
    async with Caller(asterisk_sandbox.asterisk_section) as caller:
        async with running_medlytt(sections, db_path=tmp_path / "m.db") as app:
            await wait_until(lambda: app.gateways[0].connected, timeout=15)
            await caller.call("500")
            first = await caller.prompt(PROMPT_LONG, set())
            await caller.press("3")
            await caller.prompt(PROMPT_SHORT, {first}, timeout=5)
        await nothing_left(caller)
    db = sqlite_utils.Database(tmp_path / "m.db")
    assert [row["result"] for row in db["survey_responses"].rows] == ["incomplete"]
    answers = {row["question"]: row["answer"] for row in db["survey_answers"].rows}
    assert answers == {"satisfaction": "3", "resolved": "hung_up"}
