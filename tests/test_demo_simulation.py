"""The simulated contact center behaves like a queueing system and like a gateway."""

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import msgspec
from medlytt import events as ev
from medlytt import utcnow
from medlytt.events import AgentState
from medlytt.gateways.demo.settings import DemoQueue, DemoSettings
from medlytt.gateways.demo.simulation import (
    MAX_HISTORY_EVENTS,
    ContactCenterSimulation,
    history_seconds,
)
from medlytt.state import LiveState
from medlytt.testing import wait_until

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

ALLOWED = {
    AgentState.AVAILABLE: {AgentState.RINGING, AgentState.PAUSED},
    AgentState.RINGING: {AgentState.ON_CALL, AgentState.AVAILABLE},
    AgentState.ON_CALL: {AgentState.WRAP_UP},
    AgentState.WRAP_UP: {AgentState.AVAILABLE, AgentState.PAUSED},
    AgentState.PAUSED: {AgentState.AVAILABLE},
}


def simulate(
    settings: DemoSettings, seconds: float, seed: int = 1
) -> tuple[ContactCenterSimulation, list]:
    sim = ContactCenterSimulation(settings, start=START, seed=seed)
    return sim, list(sim.run(seconds))


def test_same_seed_same_day():
    _, a = simulate(DemoSettings(), 3600, seed=42)
    _, b = simulate(DemoSettings(), 3600, seed=42)
    _, c = simulate(DemoSettings(), 3600, seed=43)
    assert a == b
    assert a != c


def test_every_call_has_exactly_one_outcome_and_consistent_times():
    sim, events = simulate(DemoSettings(), 4 * 3600)
    queued = {e.call_id: e for e in events if isinstance(e, ev.CallQueued)}
    outcomes: dict[str, list[ev.Event]] = {}
    for e in events:
        if isinstance(e, ev.CallAnswered | ev.CallAbandoned | ev.CallTimedOut):
            outcomes.setdefault(e.call_id, []).append(e)
            wait = (e.at - queued[e.call_id].at).total_seconds()
            assert abs(e.wait_seconds - wait) < 1e-3
    assert all(len(v) == 1 for v in outcomes.values())
    still_waiting = {c.call_id for calls in sim.waiting.values() for c in calls}
    assert set(queued) == set(outcomes) | still_waiting
    kinds = Counter(type(v[0]).__name__ for v in outcomes.values())
    # A realistic day: most calls answered, some abandoned.
    assert kinds["CallAnswered"] > 0.7 * len(outcomes)
    assert kinds["CallAbandoned"] > 0


def test_agent_states_follow_the_allowed_transitions():
    _, events = simulate(DemoSettings(), 4 * 3600)
    current: dict[str, AgentState] = {}
    seen = set()
    for e in events:
        if isinstance(e, ev.AgentStateChanged):
            before = current.get(e.agent_id)
            if before is not None:
                assert e.state in ALLOWED[before], (e.agent_id, before, e.state)
            current[e.agent_id] = e.state
            seen.add(e.state)
            if e.state is AgentState.PAUSED:
                assert e.reason
    assert seen == set(ALLOWED)


def test_overloaded_queue_times_out():
    settings = DemoSettings(
        agents=1,
        queues=[
            DemoQueue(name="q", calls_per_hour=600, max_wait_seconds=30, patience_mean_seconds=1e6)
        ],
        pauses_per_agent_hour=0,
    )
    _, events = simulate(settings, 3600)
    timeouts = [e for e in events if isinstance(e, ev.CallTimedOut)]
    assert timeouts
    assert all(abs(e.wait_seconds - 30) < 1e-6 for e in timeouts)


def replay(sim: ContactCenterSimulation, events: list, state: LiveState | None = None) -> LiveState:
    """Apply ``events`` to a live state and check it equals the simulator's own."""
    state = state or LiveState()
    for e in events:
        state.apply(e)
    for name, waiting in sim.waiting.items():
        assert list(state.queues[name].waiting) == [c.call_id for c in waiting]
    for agent in sim.agents:
        assert state.agents[agent.agent_id].state is agent.state
        assert state.agents[agent.agent_id].name == agent.name
    return state


def test_replayed_events_give_the_live_state_the_simulator_has():
    sim, events = simulate(DemoSettings(), 2 * 3600, seed=7)
    replay(sim, events)


def backfill(settings: DemoSettings, now: datetime, seed: int = 5):
    """What the demo gateway does at start: the day so far, up to ``now``."""
    seconds = history_seconds(settings)
    sim = ContactCenterSimulation(settings, start=now - timedelta(seconds=seconds), seed=seed)
    return sim, seconds, [e for events in sim.steps(seconds) for e in events]


def test_the_history_is_a_plausible_morning_that_ends_now():
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    settings = DemoSettings()
    sim, seconds, events = backfill(settings, now)
    assert seconds == 4 * 3600  # the default: a morning, 08:00 to noon
    assert sim.now == seconds  # the simulation stands at "now"
    times = [e.at for e in events]
    assert times == sorted(times)
    assert times[0] == now - timedelta(hours=4)
    assert times[-1] <= now
    assert times[-1] > now - timedelta(minutes=5)  # traffic right up to now
    assert 5000 < len(events) < MAX_HISTORY_EVENTS

    for queue in settings.queues:
        mine = [e for e in events if getattr(e, "queue", None) == queue.name]
        answered = [e for e in mine if isinstance(e, ev.CallAnswered)]
        abandoned = [e for e in mine if isinstance(e, ev.CallAbandoned)]
        assert len(answered) > 0.5 * queue.calls_per_hour * 4, queue.name
        # Every hour of the morning had calls answered: counters, intervals and windows
        # (15m, 1h, today) all have something to show.
        hours = {int((e.at - times[0]).total_seconds() // 3600) for e in answered}
        assert hours == {0, 1, 2, 3}, queue.name
        # Service level as queue_metrics computes it (abandons within 5 s do not count).
        within = sum(e.wait_seconds <= queue.service_level_seconds for e in answered)
        counted = len(answered) + sum(e.wait_seconds > 5 for e in abandoned)
        assert 0 < within / counted <= 1, queue.name
    assert any(isinstance(e, ev.CallAbandoned) for e in events)
    assert {e.source for e in events} == {"demo"}


def test_the_live_demo_goes_on_from_the_state_the_history_left():
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    sim, seconds, events = backfill(DemoSettings(), now, seed=11)
    state = replay(sim, events)
    open_calls = {a.call.call_id for a in sim.agents if a.call is not None}
    open_calls |= {c.call_id for waiting in sim.waiting.values() for c in waiting}
    assert open_calls, "at noon some agents are on calls"
    # What happens next happens after now, and finishes the calls the history left open.
    later = sim.advance(seconds + 1800)
    assert later and all(e.at > now for e in later)
    outcomes = ev.CallEnded | ev.CallAbandoned | ev.CallTimedOut
    assert open_calls <= {e.call_id for e in later if isinstance(e, outcomes)}
    replay(sim, later, state)


def test_the_history_is_bounded_so_start_stays_fast():
    heavy = DemoSettings(
        agents=400,
        history_hours=24,
        queues=[DemoQueue(name=f"q{i}", calls_per_hour=1500) for i in range(4)],
    )
    started = time.perf_counter()
    _, seconds, events = backfill(heavy, datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    assert seconds < 3600  # far less than the 24 h asked for
    assert 0.5 * MAX_HISTORY_EVENTS < len(events) < 1.2 * MAX_HISTORY_EVENTS
    assert time.perf_counter() - started < 2
    assert history_seconds(DemoSettings(history_hours=0)) == 0
    _, _, none = backfill(DemoSettings(history_hours=0), datetime(2026, 11, 23, tzinfo=UTC))
    assert {type(e) for e in none} == {ev.QueueConfigured, ev.AgentStateChanged}


def test_settings_reject_duplicate_queue_names():
    data = {"queues": [{"name": "q", "calls_per_hour": 1}, {"name": "q", "calls_per_hour": 2}]}
    try:
        msgspec.convert(data, DemoSettings)
    except msgspec.ValidationError as exc:
        assert "queue names must be unique" in str(exc)
    else:
        raise AssertionError("duplicate queue names were accepted")


async def test_demo_gateway_feeds_the_app_and_is_labelled_demo(medlytt, medlytt_client):
    async with medlytt({"demo": {"enabled": True, "speed": 200, "seed": 3}}) as app:
        await wait_until(
            lambda: app.metric("medlytt_events_total", {"type": "call.answered"}), timeout=10
        )
        client = await medlytt_client(app)
        state = await (await client.get("/api/state")).json()
        assert state["demo"] is True
        assert len(state["agents"]) == 16
        ready = await client.get("/readyz")
        assert ready.status == 200
        assert (await ready.json())["gateways"] == {"demo": True}
        assert app.metric("medlytt_demo_mode") == 1
        assert app.metric("medlytt_gateway_up", {"gateway": "demo"}) == 1


async def test_the_demo_starts_with_the_day_so_far_in_metrics_and_intervals(
    medlytt, medlytt_client
):
    queues = ("support", "sales", "billing")

    def answered(app, queue: str) -> float:
        return app.metric("medlytt_queue_calls_total", {"queue": queue, "outcome": "answered"})

    published: list[tuple[datetime, datetime]] = []  # (event time, when published)

    def listen(event: ev.Event) -> None:
        if event.source == "demo":
            published.append((event.at, utcnow()))

    async with medlytt({"demo": {"enabled": True, "seed": 3}}) as app:
        app.bus.listeners.append(listen)
        # The history is published at once: it reaches the present within a few seconds.
        await wait_until(
            lambda: published and published[-1][0] > utcnow() - timedelta(minutes=5), timeout=5
        )
        await app.settle()
        times = [at for at, _ in published]
        assert times == sorted(times)
        assert times[0] < utcnow() - timedelta(hours=3.9)
        assert all(at <= when for at, when in published)  # never an event from the future
        for queue in queues:
            assert answered(app, queue) > 100, queue  # hours of calls, not a first few
            assert app.metric("medlytt_queue_calls_total", {"queue": queue, "outcome": "abandoned"})
            for window in ("15m", "1h", "today"):
                level = app.metric(
                    "medlytt_queue_service_level_ratio", {"queue": queue, "window": window}
                )
                if window == "today" and utcnow().hour == 0 and utcnow().minute < 10:
                    continue  # just past midnight "today" may hold no call yet
                assert 0 <= level <= 1, (queue, window, level)
            assert app.metric("medlytt_queue_agents_required", {"queue": queue}) >= 1
        assert sum(a.state is not AgentState.LOGGED_OUT for a in app.state.agents.values()) == 16

        # Queue intervals: two hours ago is a past interval with real traffic in it.
        client = await medlytt_client(app)
        earlier = utcnow() - timedelta(hours=2)
        response = await client.get(
            "/api/queues/support/intervals", params={"date": earlier.date().isoformat()}
        )
        assert response.status == 200
        rows = (await response.json())["intervals"]
        slot = earlier.replace(minute=earlier.minute - earlier.minute % 15, second=0, microsecond=0)
        [row] = [r for r in rows if datetime.fromisoformat(r["start"]) == slot]
        assert row["offered"] > 0 and row["answered"] > 0, row
        assert all(min(r["offered"], r["answered"], r["abandoned"]) >= 0 for r in rows)
        events = await (await client.get("/api/events", params={"limit": "1"})).json()
        first = datetime.fromisoformat(events["events"][0]["event"]["at"])
        assert utcnow() - first > timedelta(hours=3.9)


async def test_demo_steps_aside_when_a_real_gateway_is_configured(medlytt):
    from medlytt import hookimpl
    from medlytt.gateway import Gateway

    class Quiet(Gateway):
        name = "pbx"

        async def run(self, publish):
            self.connected = True
            import asyncio

            await asyncio.Event().wait()

    class RealPbx:
        @hookimpl
        def medlytt_gateways(self):
            return [Quiet()]

    async with medlytt({"demo": {"enabled": True}}, plugins=[("pbx", RealPbx())]) as app:
        assert [g.name for g in app.gateways] == ["pbx"]
        assert app.demo is False
