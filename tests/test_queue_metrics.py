"""Queue metrics follow the events; gauges are read from the live state."""

from datetime import timedelta

from medlytt import events as ev
from medlytt.clock import utcnow
from medlytt.events import AgentState


def script(t0):
    def at(s):
        return t0 + timedelta(seconds=s)

    src = "test"
    return [
        ev.QueueConfigured(at=at(0), source=src, queue="support", service_level_seconds=20),
        ev.AgentStateChanged(
            at=at(0), source=src, agent_id="A1", state=AgentState.AVAILABLE, queues=("support",)
        ),
        ev.AgentStateChanged(
            at=at(0),
            source=src,
            agent_id="A2",
            state=AgentState.PAUSED,
            reason="lunch",
            queues=("support",),
        ),
        ev.CallQueued(at=at(1), source=src, call_id="c1", queue="support"),
        ev.CallAnswered(
            at=at(13), source=src, call_id="c1", queue="support", agent_id="A1", wait_seconds=12
        ),
        ev.AgentStateChanged(at=at(13), source=src, agent_id="A1", state=AgentState.ON_CALL),
        ev.CallQueued(at=at(14), source=src, call_id="c2", queue="support"),
        ev.CallAbandoned(at=at(44), source=src, call_id="c2", queue="support", wait_seconds=30),
        ev.CallQueued(at=at(50), source=src, call_id="c3", queue="support"),
        ev.CallEnded(
            at=at(73),
            source=src,
            call_id="c1",
            queue="support",
            agent_id="A1",
            hung_up_by="agent",
            talk_seconds=60,
        ),
        ev.AgentStateChanged(at=at(73), source=src, agent_id="A1", state=AgentState.WRAP_UP),
        ev.AgentStateChanged(at=at(83), source=src, agent_id="A1", state=AgentState.AVAILABLE),
    ]


async def test_counters_histograms_and_gauges(medlytt):
    async with medlytt() as app:
        t0 = utcnow() - timedelta(seconds=100)
        for event in script(t0):
            app.publish(event)
        await app.settle()
        m = app.metric
        assert m("medlytt_queue_calls_total", {"queue": "support", "outcome": "answered"}) == 1
        assert m("medlytt_queue_calls_total", {"queue": "support", "outcome": "abandoned"}) == 1
        assert m("medlytt_queue_calls_total", {"queue": "support", "outcome": "timeout"}) == 0
        assert (
            m("medlytt_queue_wait_seconds_sum", {"queue": "support", "outcome": "answered"}) == 12
        )
        assert (
            m(
                "medlytt_queue_wait_seconds_bucket",
                {"queue": "support", "outcome": "abandoned", "le": "20.0"},
            )
            == 0
        )
        assert (
            m(
                "medlytt_queue_wait_seconds_bucket",
                {"queue": "support", "outcome": "abandoned", "le": "30.0"},
            )
            == 1
        )
        assert m("medlytt_call_talk_seconds_sum", {"queue": "support"}) == 60
        assert m("medlytt_call_wrapup_seconds_sum", {"queue": "support"}) == 10
        assert m("medlytt_call_wrapup_seconds_count", {"queue": "support"}) == 1
        # c3 still waits, since t0+50 s, i.e. about 50 s ago.
        assert m("medlytt_queue_calls_waiting", {"queue": "support"}) == 1
        assert 49 < m("medlytt_queue_longest_wait_seconds", {"queue": "support"}) < 60
        assert m("medlytt_agents", {"queue": "support", "state": "available"}) == 1
        assert m("medlytt_agents", {"queue": "support", "state": "paused"}) == 1
        assert m("medlytt_agents", {"queue": "support", "state": "on_call"}) == 0
        assert m("medlytt_events_total", {"source": "test", "type": "call.queued"}) == 3


async def test_buckets_come_from_config(medlytt):
    async with medlytt({"queue_metrics": {"wait_buckets": [20, 40]}}) as app:
        now = utcnow()
        app.publish(ev.CallQueued(at=now, source="t", call_id="c", queue="q"))
        app.publish(ev.CallTimedOut(at=now, source="t", call_id="c", queue="q", wait_seconds=35))
        await app.settle()
        labels = {"queue": "q", "outcome": "timeout"}
        assert app.metric("medlytt_queue_wait_seconds_bucket", {**labels, "le": "20.0"}) == 0
        assert app.metric("medlytt_queue_wait_seconds_bucket", {**labels, "le": "40.0"}) == 1
        assert app.metric("medlytt_queue_wait_seconds_bucket", {**labels, "le": "60.0"}) is None
