"""The simulated contact center behaves like a queueing system and like a gateway."""

from collections import Counter
from datetime import UTC, datetime

import msgspec
from medlytt import events as ev
from medlytt.events import AgentState
from medlytt.gateways.demo.settings import DemoQueue, DemoSettings
from medlytt.gateways.demo.simulation import ContactCenterSimulation
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


def test_replayed_events_give_the_live_state_the_simulator_has():
    sim, events = simulate(DemoSettings(), 2 * 3600, seed=7)
    state = LiveState()
    for e in events:
        state.apply(e)
    for name, waiting in sim.waiting.items():
        assert list(state.queues[name].waiting) == [c.call_id for c in waiting]
    for agent in sim.agents:
        assert state.agents[agent.agent_id].state is agent.state
        assert state.agents[agent.agent_id].name == agent.name


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
