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


async def test_service_level_windows_follow_the_documented_formula(medlytt):
    now = utcnow()

    def at(minutes_ago: float):
        return now - timedelta(minutes=minutes_ago)

    outcomes = [
        (ev.CallAnswered, 30, 10.0),  # older than 15 m: only in 1h and today
        (ev.CallAnswered, 5, 10.0),  # within 20 s
        (ev.CallAnswered, 4, 25.0),  # answered late
        (ev.CallAbandoned, 3, 3.0),  # abandoned within the 5 s grace: not counted
        (ev.CallAbandoned, 2, 30.0),  # abandoned after the grace: counts against
        (ev.CallTimedOut, 1, 300.0),  # timeouts are not in the formula
    ]
    settings = {"queue_metrics": {"service_level_windows": ["15m", "1h"]}}
    async with medlytt(settings) as app:
        app.publish(ev.QueueConfigured(at=at(60), source="t", queue="q", service_level_seconds=20))
        for i, (cls, ago, wait) in enumerate(outcomes):
            fields = {"agent_id": "A"} if cls is ev.CallAnswered else {}
            app.publish(
                cls(at=at(ago), source="t", call_id=f"c{i}", queue="q", wait_seconds=wait, **fields)
            )
        await app.settle()
        ratio = "medlytt_queue_service_level_ratio"
        assert app.metric(ratio, {"queue": "q", "window": "15m"}) == 1 / 3
        assert app.metric(ratio, {"queue": "q", "window": "1h"}) == 2 / 4
        assert app.metric("medlytt_queue_service_level_threshold_seconds", {"queue": "q"}) == 20
        assert app.metric("medlytt_queue_service_level_target_ratio", {"queue": "q"}) == 0.8


async def test_agents_required_is_erlang_c_of_the_window(medlytt):
    from medlytt.plugins.queue_metrics import erlang

    now = utcnow()
    async with medlytt() as app:
        app.publish(ev.QueueConfigured(at=now, source="t", queue="q", service_level_seconds=20))
        app.publish(
            ev.AgentStateChanged(
                at=now - timedelta(minutes=20),
                source="t",
                agent_id="A",
                state=AgentState.AVAILABLE,
                queues=("q",),
            )
        )
        for i in range(30):  # 30 arrivals in the last 15 minutes
            app.publish(
                ev.CallQueued(
                    at=now - timedelta(seconds=880 - i * 29), source="t", call_id=f"c{i}", queue="q"
                )
            )
        for i in range(3):  # handle time: 170 s talk + 10 s wrap-up
            app.publish(
                ev.CallAnswered(
                    at=now - timedelta(seconds=400),
                    source="t",
                    call_id=f"c{i}",
                    queue="q",
                    agent_id="A",
                    wait_seconds=5,
                )
            )
            app.publish(
                ev.CallEnded(
                    at=now - timedelta(seconds=230),
                    source="t",
                    call_id=f"c{i}",
                    queue="q",
                    agent_id="A",
                    hung_up_by="caller",
                    talk_seconds=170,
                )
            )
            app.publish(
                ev.AgentStateChanged(
                    at=now - timedelta(seconds=230),
                    source="t",
                    agent_id="A",
                    state=AgentState.WRAP_UP,
                )
            )
            app.publish(
                ev.AgentStateChanged(
                    at=now - timedelta(seconds=220),
                    source="t",
                    agent_id="A",
                    state=AgentState.AVAILABLE,
                )
            )
        await app.settle()
        got = app.metric("medlytt_queue_agents_required", {"queue": "q"})
    window = 900.0
    # The window ends at scrape time, a moment after `now`: the rate is that of 30 calls.
    expected = erlang.agents_required(30 / window, 180.0, 20, 0.8)
    assert got == expected
    assert expected == erlang.agents_required(30 / (window + 1), 180.0, 20, 0.8)


async def test_occupancy_is_bounded_and_counts_calls_and_wrap_up(medlytt):
    now = utcnow()
    settings = {"queue_metrics": {"occupancy_agents_max": 1, "occupancy_window": "1h"}}
    async with medlytt(settings) as app:
        for agent in ("A", "B"):
            app.publish(
                ev.AgentStateChanged(
                    at=now - timedelta(minutes=40),
                    source="t",
                    agent_id=agent,
                    state=AgentState.AVAILABLE,
                )
            )
        app.publish(
            ev.AgentStateChanged(
                at=now - timedelta(minutes=20), source="t", agent_id="A", state=AgentState.ON_CALL
            )
        )
        app.publish(
            ev.AgentStateChanged(
                at=now - timedelta(minutes=10), source="t", agent_id="A", state=AgentState.WRAP_UP
            )
        )
        app.publish(
            ev.AgentStateChanged(
                at=now - timedelta(minutes=5),
                source="t",
                agent_id="A",
                state=AgentState.PAUSED,
                reason="lunch",
            )
        )
        await app.settle()
        occupancy = app.metric("medlytt_agent_occupancy_ratio", {"agent": "A"})
        # staffed 35 min (20 available + 10 on call + 5 wrap-up), busy 15 min; paused excluded
        assert abs(occupancy - 15 / 35) < 1e-3
        assert app.metric("medlytt_agent_occupancy_ratio", {"agent": "B"}) is None  # bounded


async def test_bad_window_settings_are_rejected(tmp_path):
    from medlytt.app import load_plugins
    from medlytt.config import ConfigError
    from medlytt.testing import make_config

    for section, message in [
        ({"service_level_windows": ["15 minutes"]}, "window '15 minutes' must be like"),
        ({"staffing_window": "today"}, "staffing_window must be a duration"),
        ({"timezone": "Mars/Olympus"}, "timezone 'Mars/Olympus' is not a time zone name"),
        ({"service_level_target": 1.5}, "queue_metrics.service_level_target"),
    ]:
        config = make_config({"queue_metrics": section}, db_path=tmp_path / "x.db")
        try:
            load_plugins(config)
        except ConfigError as exc:
            assert message in str(exc)
        else:
            raise AssertionError(f"{section} was accepted")
