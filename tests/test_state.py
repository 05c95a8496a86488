from datetime import UTC, datetime, timedelta

from medlytt import events as ev
from medlytt.events import AgentState
from medlytt.state import LiveState, StateSlot

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def answered_call_events() -> list[ev.Event]:
    s = "test"
    return [
        ev.QueueConfigured(
            at=at(0), source=s, queue="support", strategy="rrmemory", service_level_seconds=20
        ),
        ev.AgentStateChanged(
            at=at(0),
            source=s,
            agent_id="PJSIP/1001",
            state=AgentState.AVAILABLE,
            name="Ingrid Berg",
            queues=("support",),
        ),
        ev.CallQueued(at=at(1), source=s, call_id="c1", queue="support", caller_id="+4712345678"),
        ev.AgentOffered(at=at(3), source=s, call_id="c1", queue="support", agent_id="PJSIP/1001"),
        ev.AgentStateChanged(at=at(3), source=s, agent_id="PJSIP/1001", state=AgentState.RINGING),
    ]


def test_a_queued_call_waits_in_its_queue_until_answered():
    state = LiveState()
    for event in answered_call_events():
        state.apply(event)
    queue = state.queues["support"]
    assert list(queue.waiting) == ["c1"]
    assert queue.longest_wait(at(11)) == 10
    assert state.calls["c1"].ringing_agents == ["PJSIP/1001"]

    state.apply(
        ev.CallAnswered(
            at=at(5),
            source="t",
            call_id="c1",
            queue="support",
            agent_id="PJSIP/1001",
            wait_seconds=4,
        )
    )
    assert queue.waiting == {}
    assert state.calls["c1"].status == "talking"
    assert state.agents["PJSIP/1001"].call_id == "c1"

    state.apply(
        ev.CallEnded(
            at=at(65),
            source="t",
            call_id="c1",
            queue="support",
            agent_id="PJSIP/1001",
            hung_up_by="caller",
            talk_seconds=60,
        )
    )
    assert state.calls == {}
    agent = state.agents["PJSIP/1001"]
    assert agent.call_id is None
    assert agent.last_queue == "support"
    assert agent.state is AgentState.RINGING  # state changes only by AgentStateChanged


def test_abandon_timeout_and_lost_calls_leave_nothing_behind():
    state = LiveState()
    for i, cls in enumerate((ev.CallAbandoned, ev.CallTimedOut)):
        state.apply(ev.CallQueued(at=at(i), source="t", call_id=f"c{i}", queue="q"))
        state.apply(cls(at=at(i + 5), source="t", call_id=f"c{i}", queue="q", wait_seconds=5))
    state.apply(ev.CallQueued(at=at(9), source="t", call_id="lost", queue="q"))
    state.apply(
        ev.CallLost(at=at(10), source="t", call_id="lost", reason="pbx restarted", queue="q")
    )
    assert state.calls == {}
    assert state.queues["q"].waiting == {}


def test_agent_state_keeps_reason_membership_and_name():
    state = LiveState()
    state.apply(
        ev.AgentStateChanged(
            at=at(0),
            source="t",
            agent_id="PJSIP/1002",
            state=AgentState.AVAILABLE,
            name="Lars Lund",
            queues=("sales", "support"),
        )
    )
    state.apply(
        ev.AgentStateChanged(
            at=at(5), source="t", agent_id="PJSIP/1002", state=AgentState.PAUSED, reason="lunch"
        )
    )
    agent = state.agents["PJSIP/1002"]
    assert (agent.state, agent.reason, agent.state_since) == (AgentState.PAUSED, "lunch", at(5))
    assert agent.queues == ("sales", "support")
    assert set(state.queues) == {"sales", "support"}
    assert state.find_agent("lars lund") is agent
    assert state.find_agent("PJSIP/1002") is agent
    assert state.find_agent("nobody") is None


def test_monitoring_sessions_follow_their_events_in_the_plugins_slot():
    from medlytt.plugins.monitoring.events import (
        MonitoringModeChanged,
        MonitoringStarted,
        MonitoringStopped,
        MonitorMode,
    )
    from medlytt.plugins.monitoring.state import MonitoringState

    state = LiveState()
    state.add_slot("monitoring", MonitoringState())
    state.apply(
        MonitoringStarted(
            at=at(0),
            source="t",
            session_id="m1",
            call_id="c1",
            agent_id="PJSIP/1001",
            supervisor="kari",
            mode=MonitorMode.LISTEN,
        )
    )
    state.apply(
        MonitoringModeChanged(
            at=at(1),
            source="t",
            session_id="m1",
            mode=MonitorMode.WHISPER,
            previous_mode=MonitorMode.LISTEN,
        )
    )
    slot = state.slot(MonitoringState)
    assert slot.sessions["m1"].mode is MonitorMode.WHISPER
    assert state.snapshot()["plugins"]["monitoring"]["sessions"][0]["mode"] == "whisper"
    state.apply(
        MonitoringStopped(
            at=at(2), source="t", session_id="m1", reason="stopped", duration_seconds=2
        )
    )
    assert slot.sessions == {}


def test_a_slot_follows_only_its_types_and_its_errors_are_reported_not_raised():
    class Counting(StateSlot):
        follows = (ev.CallQueued, "other_plugin.thing")

        def __init__(self) -> None:
            self.seen: list[str] = []

        def apply(self, event):
            self.seen.append(event.type)
            if event.type == "call.queued" and event.queue == "boom":
                raise RuntimeError("slot bug")

    errors = []
    state = LiveState()
    state.on_slot_error = lambda plugin, exc: errors.append((plugin, str(exc)))
    slot = Counting()
    state.add_slot("counting", slot)
    state.apply(ev.CallQueued(at=at(0), source="t", call_id="c1", queue="support"))
    state.apply(
        ev.CallAbandoned(at=at(1), source="t", call_id="c1", queue="support", wait_seconds=1)
    )
    state.apply(ev.CallQueued(at=at(2), source="t", call_id="c2", queue="boom"))
    assert slot.seen == ["call.queued", "call.queued"]
    assert errors == [("counting", "slot bug")]
    assert "c2" in state.calls  # the core's state took the event all the same
    assert state.slot(Counting) is slot


def test_snapshot_is_json_ready():
    state = LiveState()
    for event in answered_call_events():
        state.apply(event)
    snap = state.snapshot()
    assert snap["queues"][0]["name"] == "support"
    assert snap["agents"][0]["state"] == "ringing"
    assert snap["calls"][0]["caller_id"] == "+4712345678"
    assert snap["last_event_at"] == "2026-11-23T09:00:03Z"
