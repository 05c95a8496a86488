"""Post-call surveys without Asterisk: config, sampling, the survey's logic, scores and API.

The ARI choreography is driven here by a fake ARI client and hand-made events; the same
choreography against a real Asterisk is in tests/asterisk/test_surveys.py.
"""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
import sqlite_utils
from medlytt import Scope, auth
from medlytt import events as ev
from medlytt.app import load_plugins
from medlytt.config import ConfigError, load_config
from medlytt.gateways.asterisk.ari import AriError
from medlytt.gateways.asterisk.control import AriCallControl
from medlytt.plugins.surveys import store
from medlytt.plugins.surveys.service import Sampler, SurveyService
from medlytt.plugins.surveys.settings import SurveySettings
from medlytt.plugins.surveys.survey import SurveyCall
from medlytt.storage import apply_migrations
from medlytt.testing import make_config, wait_until
from support import MEDLYTT, medlytt_env

CHANNEL = "caller-line"
QUESTIONS = [
    {"id": "satisfaction", "prompt": "sound:rate-1-to-5"},
    {"id": "resolved", "prompt": "sound:resolved-1-yes-2-no", "keys": "12"},
]
AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

EVERYONE = Scope(agents=None)  # what an admin sees


def settings(**extra: Any) -> SurveySettings:
    data = {"questions": QUESTIONS, "queues": {"support": {}}, **extra}
    return msgspec.convert(data, SurveySettings)


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"questions": [{"id": "q", "prompt": "beep"}]}, "surveys.questions.0: prompt must be"),
        (
            {"questions": [{"id": "q", "prompt": "sound:x", "keys": "1a"}]},
            "surveys.questions.0: keys must be digits 0-9 only",
        ),
        ({"questions": [{"id": "q", "prompt": "sound:x", "keys": ""}]}, "keys must list"),
        ({"questions": [{"id": "Q 1", "prompt": "sound:x"}]}, "surveys.questions.0: id must"),
        ({"questions": [{"id": "q", "prompt": "sound:x", "key": "1"}]}, "questions.0.key: unknown"),
        ({"questions": QUESTIONS * 2}, "surveys.questions: expected `array` of length <= 3"),
        ({"questions": [QUESTIONS[0]] * 2}, "the id 'satisfaction' is used twice"),
        ({"queues": {"support": {}}}, "there are no questions"),
        (
            {"questions": QUESTIONS, "queues": {"support": {}, "sales": {"every": 0}}},
            "surveys.queues.sales.every: expected `int` >= 1",
        ),
        ({"queues": {"sales": {"evry": 2}}}, "surveys.queues.sales.evry: unknown key"),
        ({"answer_timeout_seconds": 0}, "surveys.answer_timeout_seconds: expected `float` > 0"),
        ({"thanks": "thank-you.wav"}, "thanks must be an Asterisk media URI"),
    ],
)
def test_bad_settings_name_the_key(tmp_path, section, message):
    with pytest.raises(ConfigError) as info:
        load_plugins(make_config({"surveys": section}, db_path=tmp_path / "m.db"))
    assert message in str(info.value)


def test_a_nested_key_from_the_environment_is_named_with_its_origin(tmp_path):
    path = tmp_path / "medlytt.toml"
    path.write_text(
        '[[surveys.questions]]\nid = "satisfaction"\nprompt = "sound:rate"\n\n'
        "[surveys.queues.support]\nevery = 5\n"
    )
    config = load_config(path, environ={"MEDLYTT_SURVEYS__QUEUES__SALES__EVERY": "none"})
    with pytest.raises(ConfigError) as info:
        load_plugins(config)
    assert str(info.value) == (
        "surveys.queues.sales.every: expected `int`, got `str` "
        "(from environment variable MEDLYTT_SURVEYS__QUEUES__SALES__EVERY)"
    )


def test_check_config_exits_2_naming_the_key(tmp_path):
    path = tmp_path / "medlytt.toml"
    path.write_text(
        '[[surveys.questions]]\nid = "satisfaction"\nprompt = "sound:rate"\nkeys = "1-5"\n'
    )
    result = subprocess.run(
        [MEDLYTT, "check-config", "--config", str(path)],
        env=medlytt_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "surveys.questions.0: keys must be digits 0-9 only" in result.stderr
    assert "Traceback" not in result.stderr


def test_defaults_survey_nobody(tmp_path):
    _, configs = load_plugins(make_config({}, db_path=tmp_path / "m.db"))
    assert configs["surveys"] == SurveySettings()
    assert not configs["surveys"].queues


# --------------------------------------------------------------------------- sampling


def test_every_nth_caller_of_a_listed_queue_is_surveyed():
    sampler = Sampler(settings(queues={"support": {"every": 3}, "sales": {"every": 1}}))
    assert [sampler.take("support") for _ in range(7)] == [1, 0, 0, 1, 0, 0, 1]
    assert all(sampler.take("sales") for _ in range(3))
    assert not sampler.take("billing")


# --------------------------------------------------------------------------- one survey


class FakeAri:
    """Records requests; channels in ``gone`` answer 404 like Asterisk does."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.gone: set[str] = set()

    async def request(self, method: str, path: str, **kw: Any) -> None:
        self.requests.append((method, path, kw.get("params") or {}))
        if any(path.startswith(f"/channels/{channel}") for channel in self.gone):
            raise AriError(method, path, 404, "Channel not found")

    async def close(self) -> None:
        pass

    def plays(self) -> list[tuple[str, str]]:
        return [
            (p["playbackId"], p["media"]) for m, path, p in self.requests if path.endswith("/play")
        ]

    def deleted(self) -> list[str]:
        return [path for method, path, _ in self.requests if method == "DELETE"]


def fake_port(ari: FakeAri) -> AriCallControl:
    """The real ARI call-control port (requests and event translation) over ``ari``."""
    gateway = SimpleNamespace(
        name="asterisk",
        settings=SimpleNamespace(app="medlytt"),
        ari=ari,
        connected=True,
        qualifier=None,
    )
    port = AriCallControl(gateway)  # type: ignore[arg-type]
    port.in_control.update({CHANNEL, "other"})  # as after their StasisStart
    return port


def survey_call(ari: FakeAri, survey: SurveySettings) -> SurveyCall:
    """A survey of CHANNEL whose ``on_ari_event`` takes ARI JSON through the port."""
    port = fake_port(ari)
    call = SurveyCall(port, CHANNEL, "s1", survey)

    def on_ari_event(message: dict[str, Any]) -> None:
        event = port.translate(message)
        if event is not None:
            call.on_channel_event(event)

    call.on_ari_event = on_ari_event  # type: ignore[attr-defined]
    return call


def key(digit: str) -> dict[str, Any]:
    return {"type": "ChannelDtmfReceived", "channel": {"id": CHANNEL}, "digit": digit}


def finished(playback: str, state: str = "done") -> dict[str, Any]:
    return {
        "type": "PlaybackFinished",
        "playback": {"id": playback, "state": state, "media_uri": "sound:x"},
    }


async def drive(call: SurveyCall, ari: FakeAri, script: list[str]) -> Any:
    """Answer the n-th prompt with ``script[n]``: ``4`` a key while it plays, ``end`` the
    prompt finishes, ``end 4`` a key after it, ``hangup`` the caller hangs up."""
    task = asyncio.create_task(call.run())
    for number, step in enumerate(script, 1):
        await wait_until(lambda n=number: len(ari.plays()) >= n, timeout=2)
        playback = ari.plays()[number - 1][0]
        for action in step.split():
            if action == "end":
                call.on_ari_event(finished(playback))
            elif action == "hangup":
                call.on_ari_event({"type": "StasisEnd", "channel": {"id": CHANNEL}})
            else:
                call.on_ari_event(key(action))
    return await asyncio.wait_for(task, 2)


@pytest.mark.parametrize(
    ("script", "answers", "completed"),
    [
        (["4", "1"], {"satisfaction": "4", "resolved": "1"}, True),  # barge-in
        (["end 5", "end 2"], {"satisfaction": "5", "resolved": "2"}, True),  # after the prompt
        (["end", "end 1"], {"satisfaction": "no_answer", "resolved": "1"}, True),
        (["9", "3", "end 2"], {"satisfaction": "3", "resolved": "2"}, True),  # again once
        (["9", "end 0", "1"], {"satisfaction": "invalid", "resolved": "1"}, True),
        (["9", "end", "1"], {"satisfaction": "no_answer", "resolved": "1"}, True),
        (["4", "hangup"], {"satisfaction": "4", "resolved": "hung_up"}, False),
        (["hangup"], {"satisfaction": "hung_up"}, False),
    ],
    ids=[
        "barge-in",
        "after-prompt",
        "no-answer",
        "invalid-then-valid",
        "invalid-twice",
        "invalid-then-silence",
        "hang-up",
        "hang-up-at-once",
    ],
)
async def test_answers(script, answers, completed):
    ari = FakeAri()
    call = survey_call(ari, settings(answer_timeout_seconds=0.05))
    outcome = await drive(call, ari, script)
    assert (outcome.answers, outcome.completed) == (answers, completed)
    assert ari.deleted()[-1] == f"/channels/{CHANNEL}"  # always hung up at the end


async def test_a_key_stops_the_prompt_and_a_finished_prompt_is_not_stopped():
    ari = FakeAri()
    call = survey_call(ari, settings(answer_timeout_seconds=0.05))
    await drive(call, ari, ["4", "end 1"])
    first, second = (playback for playback, _ in ari.plays())
    assert first == "medlytt-srv-s1-1" and second == "medlytt-srv-s1-2"
    assert ari.deleted() == [f"/playbacks/{first}", f"/channels/{CHANNEL}"]


async def test_intro_ignores_keys_and_thanks_comes_last():
    ari = FakeAri()
    survey = settings(intro="sound:intro", thanks="sound:thanks", answer_timeout_seconds=0.05)
    call = survey_call(ari, survey)
    outcome = await drive(call, ari, ["7 end", "4", "2", "end"])
    assert outcome.answers == {"satisfaction": "4", "resolved": "2"} and outcome.completed
    assert [media for _, media in ari.plays()] == [
        "sound:intro",
        "sound:rate-1-to-5",
        "sound:resolved-1-yes-2-no",
        "sound:thanks",
    ]


async def test_hanging_up_during_thanks_still_completes():
    ari = FakeAri()
    call = survey_call(ari, settings(thanks="sound:thanks"))
    outcome = await drive(call, ari, ["4", "2", "hangup"])
    assert outcome.completed and outcome.answers == {"satisfaction": "4", "resolved": "2"}


async def test_a_channel_gone_before_the_prompt_is_a_hang_up():
    ari = FakeAri()
    ari.gone.add(CHANNEL)
    outcome = await survey_call(ari, settings()).run()
    assert outcome.answers == {"satisfaction": "hung_up"} and not outcome.completed


async def test_stopping_ends_the_survey_and_stops_the_prompt():
    ari = FakeAri()
    call = survey_call(ari, settings())
    task = asyncio.create_task(call.run())
    await wait_until(lambda: ari.plays(), timeout=2)
    call.stop()
    outcome = await asyncio.wait_for(task, 2)
    assert outcome.answers == {"satisfaction": "hung_up"}
    assert ari.deleted() == ["/playbacks/medlytt-srv-s1-1", f"/channels/{CHANNEL}"]


async def test_events_of_other_channels_and_playbacks_are_ignored():
    ari = FakeAri()
    call = survey_call(ari, settings(answer_timeout_seconds=0.05))
    task = asyncio.create_task(call.run())
    await wait_until(lambda: ari.plays(), timeout=2)
    call.on_ari_event({"type": "ChannelDtmfReceived", "channel": {"id": "other"}, "digit": "1"})
    call.on_ari_event({"type": "StasisEnd", "channel": {"id": "other"}})
    call.on_ari_event(finished("medlytt-srv-s2-1"))
    await asyncio.sleep(0.1)
    assert len(ari.plays()) == 1  # still the first prompt
    call.on_ari_event(key("5"))
    call.on_ari_event({"type": "StasisEnd", "channel": {"id": CHANNEL}})
    outcome = await asyncio.wait_for(task, 2)
    assert outcome.answers == {"satisfaction": "5", "resolved": "hung_up"}


async def test_a_prompt_asterisk_cannot_play_is_logged_once_and_the_survey_goes_on(caplog):
    ari = FakeAri()
    call = survey_call(ari, settings(answer_timeout_seconds=0.05))
    task = asyncio.create_task(call.run())
    await wait_until(lambda: ari.plays(), timeout=2)
    call.on_ari_event(finished("medlytt-srv-s1-1", "failed"))
    await wait_until(lambda: len(ari.plays()) == 2, timeout=2)
    call.on_ari_event({"type": "ChannelHangupRequest", "channel": {"id": CHANNEL}})
    call.on_ari_event(finished("medlytt-srv-s1-2", "failed"))  # cut off by the hang-up
    outcome = await asyncio.wait_for(task, 2)
    assert outcome.answers == {"satisfaction": "no_answer", "resolved": "hung_up"}
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "could not play" in warnings[0]


# --------------------------------------------------------------------------- the service


async def test_only_answered_calls_of_surveyed_queues_are_surveyed(medlytt):
    section = {"questions": QUESTIONS, "queues": {"support": {}}, "answer_timeout_seconds": 0.05}
    async with medlytt({"surveys": section}) as app:
        ari = FakeAri()
        port = fake_port(ari)
        app.gateways = [SimpleNamespace(name="asterisk", call_control=port)]  # type: ignore[list-item]
        service = SurveyService(app, app.plugin_config("surveys"))
        app.gateways = []  # claimed on the port; the fake gateway is not run or stopped
        app.plugin_state["surveys"] = service
        assert port.claimed("survey") and not port.claimed("mystery")

        def deliver(message: dict[str, Any]) -> None:
            event = port.translate(message)
            if event is not None:
                service.on_channel_event(event, port)

        for call_id, queue in (("c1", "support"), ("c2", "sales")):
            app.publish(
                ev.CallAnswered(
                    at=AT, source="t", call_id=call_id, queue=queue, agent_id="A1", wait_seconds=1
                )
            )
        await app.settle()

        def arrive(channel: str, *args: str) -> None:
            deliver({"type": "StasisStart", "channel": {"id": channel}, "args": ["survey", *args]})

        arrive("timed-out", "c0")  # never answered
        arrive("sales-line", "c2")  # not a surveyed queue
        arrive("no-call-id")
        await wait_until(lambda: len(ari.requests) == 3, timeout=2)
        assert sorted(path for _, path, _ in ari.requests) == [
            "/channels/no-call-id/continue",
            "/channels/sales-line/continue",
            "/channels/timed-out/continue",
        ]
        arrive(CHANNEL, "c1")
        await wait_until(lambda: service.active, timeout=2)
        for digit in "41":
            await wait_until(lambda: service.active[CHANNEL]._playing, timeout=2)
            deliver(key(digit))
        await wait_until(lambda: not service.active, timeout=2)
        await app.settle()
        [survey] = app.storage.run_sync(lambda db: store.surveys(db, None, EVERYONE, 10))
        assert survey["answers"] == {"satisfaction": "4", "resolved": "1"}
        assert (survey["call_id"], survey["queue"], survey["agent_id"]) == ("c1", "support", "A1")
        labels = {"queue": "support", "question": "satisfaction", "answer": "4"}
        assert app.metric("medlytt_survey_responses_total", labels) == 1
        assert app.metric("medlytt_surveys_total", {"queue": "support", "result": "completed"}) == 1


async def test_without_asterisk_the_plugin_waits_and_metrics_start_at_zero(medlytt):
    async with medlytt({"surveys": {"questions": QUESTIONS, "queues": {"support": {}}}}) as app:
        assert "surveys" not in app.plugin_state
        labels = {"queue": "support", "question": "resolved", "answer": "2"}
        assert app.metric("medlytt_survey_responses_total", labels) == 0
        labels = {"queue": "support", "question": "resolved", "answer": "no_answer"}
        assert app.metric("medlytt_survey_responses_total", labels) == 0
        assert app.metric("medlytt_surveys_total", {"queue": "support", "result": "offered"}) == 0
        assert (
            app.metric("medlytt_survey_responses_total", {"answer": "3", "question": "resolved"})
            is None
        )


# --------------------------------------------------------------------------- store and API


def survey_row(number: int, agent: str, queue: str = "support", result: str = "completed"):
    return {
        "id": f"s{number}",
        "call_id": f"c{number}",
        "queue": queue,
        "agent_id": agent,
        "started_at": f"2026-11-23T09:{number:02d}:00+00:00",
        "finished_at": f"2026-11-23T09:{number:02d}:30+00:00",
        "result": result,
    }


SURVEYS = [
    (survey_row(1, "A1"), {"satisfaction": "5", "resolved": "1"}),
    (survey_row(2, "A1"), {"satisfaction": "2", "resolved": "no_answer"}),
    (survey_row(3, "A1", result="incomplete"), {"satisfaction": "hung_up"}),
    (survey_row(4, "A2"), {"satisfaction": "invalid", "resolved": "2"}),
    (survey_row(5, "A2", queue="sales"), {"satisfaction": "3", "resolved": "1"}),
]


def fill(db: sqlite_utils.Database) -> None:
    for row, answers in SURVEYS:
        store.save_survey(db, row, answers)


def test_scores_average_only_the_keys():
    db = sqlite_utils.Database(memory=True)
    apply_migrations(db, [("surveys", m) for m in store.MIGRATIONS])
    fill(db)
    assert store.scores(db, "support", EVERYONE) == [
        {
            "agent_id": "A1",
            "surveys": 3,
            "completed": 2,
            "questions": {
                "resolved": {"answers": 1, "mean": 1.0},
                "satisfaction": {"answers": 2, "mean": 3.5},
            },
        },
        {
            "agent_id": "A2",
            "surveys": 1,
            "completed": 1,
            "questions": {"resolved": {"answers": 1, "mean": 2.0}},
        },
    ]
    [a2] = store.scores(db, None, Scope(agents=frozenset({"A2"})))
    assert a2["surveys"] == 2 and a2["questions"]["resolved"] == {"answers": 2, "mean": 1.5}
    assert store.scores(db, "billing", EVERYONE) == []


@pytest.fixture
async def api(medlytt, medlytt_client):
    """A client, and tokens of an admin, a supervisor and agents A1, A2 and one without id."""
    async with medlytt() as app:
        app.storage.run_sync(fill)

        def users(db: sqlite_utils.Database) -> dict[str, str]:
            auth.add_user(db, "ada", "admin")
            auth.add_user(db, "sue", "supervisor")  # no team: every agent
            auth.add_user(db, "tom", "supervisor", teams=["Team-B"])
            auth.add_user(db, "a1", "agent", agent_id="A1", teams=["Team-A"])
            auth.add_user(db, "a2", "agent", agent_id="A2", teams=["team-b"])
            auth.add_user(db, "nobody", "agent")
            return {
                name: auth.create_token(db, name)[1]
                for name in ("ada", "sue", "tom", "a1", "a2", "nobody")
            }

        tokens = app.storage.run_sync(users)
        client = await medlytt_client(app, role=None)

        async def get(path: str, who: str | None, **query: str) -> tuple[int, Any]:
            headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
            response = await client.get(path, params=query, headers=headers)
            return response.status, await response.json()

        yield get


async def test_agents_see_their_own_surveys_and_scores_only(api):
    status, body = await api("/api/surveys", "a1")
    assert status == 200 and [s["id"] for s in body["surveys"]] == ["s3", "s2", "s1"]
    assert body["surveys"][-1]["answers"] == {"satisfaction": "5", "resolved": "1"}
    status, body = await api("/api/surveys/scores", "a2")
    assert status == 200 and [s["agent_id"] for s in body["scores"]] == ["A2"]
    status, body = await api("/api/surveys", "a1", agent="A2")
    assert status == 403 and body["error"] == "you may not see the rows of agent 'A2'"
    status, body = await api("/api/surveys/scores", "nobody")  # no agent id: nothing
    assert status == 200 and body["scores"] == []
    status, _ = await api("/api/surveys", None)
    assert status == 401


async def test_a_supervisor_sees_only_the_agents_of_their_teams(api):
    status, body = await api("/api/surveys", "tom")
    assert status == 200 and {s["agent_id"] for s in body["surveys"]} == {"A2"}
    status, body = await api("/api/surveys/scores", "tom")
    assert [s["agent_id"] for s in body["scores"]] == ["A2"]
    status, body = await api("/api/surveys", "tom", agent="A1")
    assert status == 403 and "A1" in body["error"]


async def test_supervisors_and_admins_see_every_agent_and_can_filter(api):
    status, body = await api("/api/surveys", "sue", queue="sales")
    assert status == 200 and [s["id"] for s in body["surveys"]] == ["s5"]
    status, body = await api("/api/surveys", "ada", agent="A1", limit="2")
    assert [s["id"] for s in body["surveys"]] == ["s3", "s2"]
    status, body = await api("/api/surveys/scores", "ada", queue="support")
    assert body["queue"] == "support" and [s["agent_id"] for s in body["scores"]] == ["A1", "A2"]


@pytest.mark.parametrize(
    ("path", "query", "error"),
    [
        ("/api/surveys", {"limit": "ten"}, "limit must be a whole number"),
        ("/api/surveys", {"limit": "0"}, "limit must be between 1 and 10000"),
        (
            "/api/surveys",
            {"queu": "support"},
            "unknown query parameter 'queu'; use queue, agent, limit",
        ),
        ("/api/surveys", {"queue": ""}, "queue must not be empty"),
        (
            "/api/surveys/scores",
            {"limit": "5"},
            "unknown query parameter 'limit'; use queue, agent",
        ),
        ("/api/surveys/scores", {"agent": " "}, "agent must not be empty"),
    ],
)
async def test_bad_query_parameters_are_422(api, path, query, error):
    status, body = await api(path, "ada", **query)
    assert (status, body) == (422, {"error": error, "status": 422})
