"""The call-control module (plugins/call_control): talk shares, interruptions, silences,
first words and phases from constructed talk-detection sequences, and the plugin end to
end through events, the module switch, the event it publishes and its API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from medlytt import (
    CallAnswered,
    CallEnded,
    CallQueued,
    TalkStarted,
    TalkStopped,
)
from medlytt.plugins.call_control.conversation import Conversation
from medlytt.testing import add_user_with_token
from sample_plugins import recorder

T0 = 1_800_000_000.0  # the answer, in POSIX seconds
LAG = 0.5  # Asterisk announces a stop one silence window after the talk ended


def talk(call: Conversation, leg: str, start: float, end: float) -> None:
    """``leg`` talks from ``start`` to ``end`` (seconds after the answer), as Asterisk
    reports it: a start, then a stop one window later with the talk's duration."""
    call.talk_started(leg, T0 + start)
    call.talk_stopped(leg, T0 + end + LAG, end - start)


def answered() -> Conversation:
    call = Conversation(call_id="c1", first_seen=T0 - 5)
    call.answered(T0, "PJSIP/1001", "support")
    return call


def test_alternating_turns_give_talk_seconds_shares_and_silences():
    call = answered()
    talk(call, "agent", 1.0, 3.0)  # greeting after 1 s
    talk(call, "caller", 4.0, 9.0)  # 1 s pause, the customer explains
    talk(call, "agent", 12.0, 14.0)  # 3 s silence: the longest
    m = call.measure(T0 + 15.0)
    assert (m.agent_talk_seconds, m.customer_talk_seconds) == (4.0, 5.0)
    assert (m.agent_share, m.customer_share) == (0.444, 0.556)
    assert m.overtalk_count == 0
    assert m.longest_silence_seconds == 3.0
    assert m.agent_first_words_seconds == 1.0
    assert m.call_seconds == 15.0 and m.phases == {}


def test_each_agent_start_inside_customer_talk_is_one_interruption():
    call = answered()
    talk(call, "caller", 0.0, 10.0)
    for start in (1.0, 4.0, 7.0):
        talk(call, "agent", start, start + 1.0)
    talk(call, "agent", 11.0, 12.0)  # after the customer finished: no interruption
    m = call.measure(T0 + 12.0)
    assert m.overtalk_count == 3
    assert m.agent_talk_seconds == 4.0 and m.customer_talk_seconds == 10.0
    assert m.longest_silence_seconds == 1.0


def test_the_customer_starting_over_the_agent_is_no_interruption_by_the_agent():
    call = answered()
    talk(call, "agent", 0.5, 6.0)
    talk(call, "caller", 2.0, 3.0)
    assert call.measure(T0 + 7.0).overtalk_count == 0


def test_talk_before_the_answer_and_talk_still_going_at_the_end_are_cut():
    """The caller "talks" to the queue's music before the answer; the agent is still
    talking when the call ends (no stop came)."""
    call = Conversation(call_id="c1", first_seen=T0 - 20)
    call.talk_started("caller", T0 - 10)
    call.answered(T0, "PJSIP/1001", "support")
    call.talk_stopped("caller", T0 + 2.0 + LAG, 12.0)  # talked from -10 s to +2 s
    call.talk_started("agent", T0 + 3.0)
    m = call.measure(T0 + 8.0)
    assert m.customer_talk_seconds == 2.0
    assert m.agent_talk_seconds == 5.0
    assert m.agent_first_words_seconds == 3.0
    assert m.longest_silence_seconds == 1.0


def test_one_silent_side_and_a_silent_call():
    call = answered()
    talk(call, "caller", 0.0, 6.0)
    m = call.measure(T0 + 10.0)
    assert m.agent_talk_seconds == 0 and m.agent_share == 0.0 and m.customer_share == 1.0
    assert m.agent_first_words_seconds is None and m.overtalk_count == 0
    assert m.longest_silence_seconds == 4.0
    silent = answered().measure(T0 + 5.0)
    assert silent.agent_share is None and silent.longest_silence_seconds == 5.0


def test_a_stop_without_its_start_uses_the_window_learnt_from_earlier_stops():
    call = answered()
    talk(call, "agent", 1.0, 2.0)  # learns the 0.5 s window
    call.talk_stopped("caller", T0 + 6.0 + LAG, 2.0)  # its start was lost: 4 s to 6 s
    m = call.measure(T0 + 8.0)
    assert m.customer_talk_seconds == 2.0 and m.longest_silence_seconds == 2.0


def test_time_per_phase_runs_from_each_mark_to_the_next_or_the_end():
    call = answered()
    call.mark("opening", T0 + 2.0, "sup")
    call.mark("mapping", T0 + 10.0, "sup")
    call.mark("solution", T0 + 40.0, "sup")
    call.mark("closing", T0 + 55.0, "sup")
    call.mark("solution", T0 + 58.0, "sup")  # back to the solution for a moment
    assert call.measure(T0 + 60.0).phases == {
        "unmarked": 2.0,
        "opening": 8.0,
        "mapping": 30.0,
        "solution": 17.0,
        "closing": 3.0,
    }
    with pytest.raises(ValueError, match="phase must be one of opening, mapping"):
        call.mark("small talk", T0 + 59.0, "sup")


# --------------------------------------------------------------------------- the plugin

AGENT, OTHER = "PJSIP/1001", "PJSIP/2001"
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return AT + timedelta(seconds=seconds)


def call_events(call_id: str, agent: str) -> list:
    """A call: the caller talks in the queue, the agent answers at 0 and greets after
    1.5 s, the caller talks over the end of the greeting, the agent cuts in, 3 s silence."""

    def t_on(leg, s):
        return TalkStarted(at=at(s), source="t", call_id=call_id, leg=leg, agent_id=None)

    def t_off(leg, s, d):
        return TalkStopped(at=at(s), source="t", call_id=call_id, leg=leg, duration_seconds=d)

    return [
        CallQueued(at=at(-6), source="t", call_id=call_id, queue="support"),
        t_on("caller", -5),
        CallAnswered(
            at=at(0),
            source="t",
            call_id=call_id,
            queue="support",
            agent_id=agent,
            wait_seconds=6,
            ring_seconds=2,
        ),
        t_off("caller", 0.5, 5),  # stopped at 0 (cut: nothing after the answer)
        t_on("agent", 1.5),
        t_on("caller", 3),
        t_off("agent", 4.5, 3),  # agent 1.5-4.5
        t_on("agent", 5),  # over the caller: an interruption
        t_off("caller", 7, 3.5),  # caller 3-6.5
        t_off("agent", 7.5, 2),  # agent 5-7
        CallEnded(
            at=at(10),
            source="t",
            call_id=call_id,
            queue="support",
            agent_id=agent,
            hung_up_by="caller",
            talk_seconds=10,
        ),
    ]


async def test_measured_calls_are_published_stored_and_listed_by_role(medlytt, medlytt_client):
    async with medlytt(plugins=[("recorder", recorder)]) as app:
        agent_token = add_user_with_token(app, "ingrid", "agent", teams=["a"], agent_id=AGENT)
        add_user_with_token(app, "ola", "agent", teams=["b"], agent_id=OTHER)
        lead = add_user_with_token(app, "sup-b", "supervisor", teams=["b"])
        admin = await medlytt_client(app)
        # Module on for team a only: team b's calls are not measured.
        switched = await admin.put("/api/teams/a/modules/call-control", json={"active": True})
        assert switched.status == 200, await switched.text()
        for event in call_events("c-a", AGENT) + call_events("c-b", OTHER):
            app.publish(event)
        await app.settle()
        measured = [e for e in app.plugin_state["recorder"] if e.type == "conversation.measured"]
        assert [(e.call_id, e.agent_id, e.queue, e.overtalk_count) for e in measured] == [
            ("c-a", AGENT, "support", 1)
        ]
        assert measured[0].agent_first_words_seconds == 1.5
        response = await admin.get("/api/conversations")
        assert response.status == 200
        rows = (await response.json())["conversations"]
        assert [r["call_id"] for r in rows] == ["c-a"]
        row = rows[0]
        assert row["agent_id"] == AGENT and row["queue"] == "support"
        assert row["agent_talk_seconds"] == 5.0 and row["customer_talk_seconds"] == 3.5
        assert row["overtalk_count"] == 1
        assert row["longest_silence_seconds"] == 3.0
        assert row["agent_first_words_seconds"] == 1.5
        assert row["agent_share"] == pytest.approx(5 / 8.5, abs=0.001)
        assert app.metric("medlytt_conversations_measured_total", {"queue": "support"}) == 1
        assert app.metric("medlytt_conversation_overtalk_count", {"queue": "support"}) == 1
        # An agent sees their own rows; a supervisor of another team none of them.
        mine = await admin.get(
            "/api/conversations", headers={"Authorization": f"Bearer {agent_token}"}
        )
        assert [r["call_id"] for r in (await mine.json())["conversations"]] == ["c-a"]
        theirs = await admin.get(
            "/api/conversations",
            params={"agent": AGENT},
            headers={"Authorization": f"Bearer {lead}"},
        )
        assert theirs.status == 403 and AGENT in (await theirs.json())["error"]
        later = await admin.get("/api/conversations", params={"since": "2026-12-01T10:00:00"})
        assert (await later.json())["conversations"] == []
        bad = await admin.get("/api/conversations", params={"since": "yesterday"})
        assert bad.status == 422 and "since must be an ISO 8601 time" in (await bad.json())["error"]


async def test_a_listener_marks_phases_live_and_the_call_reports_time_per_phase(
    medlytt, medlytt_client
):
    async with medlytt(plugins=[("recorder", recorder)]) as app:
        add_user_with_token(app, "ingrid", "agent", teams=["a"], agent_id=AGENT)
        add_user_with_token(app, "ola", "agent", teams=["b"], agent_id=OTHER)
        lead_a, lead_b = (
            {"Authorization": "Bearer " + add_user_with_token(app, name, "supervisor", teams=[t])}
            for name, t in (("sup-a", "a"), ("sup-b", "b"))
        )
        admin = await medlytt_client(app)
        await admin.put("/api/teams/a/modules/call-control", json={"active": True})
        now = datetime.now(UTC)
        for call_id, agent in (("c-a", AGENT), ("c-b", OTHER)):
            app.publish(CallQueued(at=now, source="t", call_id=call_id, queue="support"))
            app.publish(
                CallAnswered(
                    at=now,
                    source="t",
                    call_id=call_id,
                    queue="support",
                    agent_id=agent,
                    wait_seconds=1,
                )
            )
        await app.settle()
        url = "/api/conversations/c-a/phase"
        marked = await admin.post(url, json={"phase": "opening"}, headers=lead_a)
        assert marked.status == 201, await marked.text()
        assert [m["phase"] for m in (await marked.json())["marks"]] == ["opening"]
        refused = await admin.post(url, json={"phase": "mapping"}, headers=lead_b)
        assert refused.status == 403 and AGENT in (await refused.json())["error"]
        wrong = await admin.post(url, json={"phase": "smalltalk"}, headers=lead_a)
        assert wrong.status == 422 and "opening|mapping" not in (await wrong.json())["error"]
        assert (
            "phase must be one of opening, mapping, solution, closing"
            in (await wrong.json())["error"]
        )
        unknown = await admin.post("/api/conversations/nope/phase", json={"phase": "opening"})
        assert unknown.status == 404 and "nope" in (await unknown.json())["error"]
        off = await admin.post("/api/conversations/c-b/phase", json={"phase": "opening"})
        assert off.status == 409 and "not on for the team" in (await off.json())["error"]
        await admin.post(url, json={"phase": "closing"}, headers=lead_a)
        app.publish(
            CallEnded(
                at=datetime.now(UTC) + timedelta(seconds=1),
                source="t",
                call_id="c-a",
                queue="support",
                agent_id=AGENT,
                hung_up_by="agent",
                talk_seconds=1,
            )
        )
        await app.settle()
        measured = [e for e in app.plugin_state["recorder"] if e.type == "conversation.measured"]
        phases = measured[0].phases
        assert set(phases) == {"unmarked", "opening", "mapping", "solution", "closing"}
        assert phases["mapping"] == phases["solution"] == 0
        assert phases["opening"] >= 0 and phases["closing"] > 0
        assert sum(phases.values()) == pytest.approx(measured[0].call_seconds, abs=0.01)
        ended = await admin.post(url, json={"phase": "opening"}, headers=lead_a)
        assert ended.status == 404
