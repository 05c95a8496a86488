"""Stress management (module 6): a scripted shift and a seeded demo shift raise exactly the
alerts their schedules imply; thresholds are configuration; only teams with the module on
are measured; the development plan is the agent's to read and their leaders' to write."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from medlytt import (
    AgentState,
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    Event,
    TalkStarted,
    TalkStopped,
    journal_events,
)
from medlytt.gateways.demo.settings import DemoSettings
from medlytt.gateways.demo.simulation import ContactCenterSimulation
from medlytt.testing import add_user_with_token, wait_until

AGENT = "PJSIP/1001"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
#: Small thresholds so that a short scripted shift shows every kind of alert.
SETTINGS = {
    "pause_seconds": 30,
    "back_to_back_calls": 3,
    "long_call_seconds": 600,
    "abrupt_call_seconds": 20,
    "after_call_work_seconds": 120,
    "occupancy_window_minutes": 60,
    "occupancy_threshold": 0.9,
    "occupancy_min_staffed_minutes": 30,
}
#: The scripted shift: (answered at, talk seconds, hung up by, wrap-up seconds), seconds
#: from T0; the agent is available from T0.
SHIFT = (
    (10, 100, "agent", 10),  # ends 110, available 120
    (125, 700, "agent", 5),  # 15 s pause: 2 in a row; a long call; ends 825
    (835, 10, "caller", 5),  # 10 s pause: 3 in a row, right after a long call; abrupt
    (860, 200, "agent", 200),  # 15 s pause after an abrupt call; 200 s after-call work
    (1400, 300, "agent", 10),  # a pause: a new run
    (1720, 400, "agent", 10),  # ends 2120: 1940 s busy of 2120 s staffed (0.915)
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def state(seconds: float, agent_state: AgentState, agent: str = AGENT) -> AgentStateChanged:
    return AgentStateChanged(at=at(seconds), source="t", agent_id=agent, state=agent_state)


def shift_events(shift: tuple[tuple[int, int, str, int], ...], agent: str = AGENT) -> list[Event]:
    events: list[Event] = [state(0, AgentState.AVAILABLE, agent)]
    for n, (answer, talk, hung_up_by, wrap) in enumerate(shift):
        call = f"{agent}-c{n}"
        end = answer + talk
        events += [
            CallAnswered(
                at=at(answer), source="t", call_id=call, queue="q", agent_id=agent, wait_seconds=1
            ),
            state(answer, AgentState.ON_CALL, agent),
            CallEnded(
                at=at(end),
                source="t",
                call_id=call,
                queue="q",
                agent_id=agent,
                hung_up_by=hung_up_by,  # type: ignore[arg-type]
                talk_seconds=talk,
            ),
            state(end, AgentState.WRAP_UP, agent),
            state(end + wrap, AgentState.AVAILABLE, agent),
        ]
    return events


async def start_team(app: Any, medlytt_client: Any, *, module_on: bool = True) -> dict[str, Any]:
    """An agent of team-a, their supervisor, a supervisor of team-b, and the module on."""
    tokens = {
        "agent": add_user_with_token(app, "a1", "agent", teams=["team-a"], agent_id=AGENT),
        "sup-a": add_user_with_token(app, "sup-a", "supervisor", teams=["team-a"]),
        "sup-b": add_user_with_token(app, "sup-b", "supervisor", teams=["team-b"]),
    }
    client = await medlytt_client(app)
    switched = await client.put("/api/teams/team-a/modules/stress", json={"active": module_on})
    assert switched.status == 200, await switched.text()
    return {"client": client, **{k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}}


async def publish(app: Any, events: list[Event]) -> None:
    for start in range(0, len(events), 2000):
        for event in events[start : start + 2000]:
            app.publish(event)
        await app.settle(timeout=60)


async def alerts_of(client: Any, **params: str) -> list[tuple[str, str, float]]:
    response = await client.get("/api/stress/alerts", params={"limit": "1000", **params})
    assert response.status == 200, await response.text()
    return sorted(
        (row["agent_id"], row["kind"], datetime.fromisoformat(row["at"]).timestamp())
        for row in (await response.json())["alerts"]
    )


def expect(*alerts: tuple[str, float]) -> list[tuple[str, str, float]]:
    return sorted((AGENT, kind, at(seconds).timestamp()) for kind, seconds in alerts)


async def test_a_scripted_shift_raises_exactly_the_alerts_its_schedule_implies(
    medlytt, medlytt_client
):
    async with medlytt({"stress": SETTINGS}) as app:
        world = await start_team(app, medlytt_client)
        await publish(app, shift_events(SHIFT))
        expect_all = expect(
            ("back_to_back", 835),
            ("long_call_then_next", 835),
            ("abrupt_call_then_next", 860),
            ("after_call_work", 1260),
            ("occupancy", 2120),
        )
        assert await alerts_of(world["client"]) == expect_all
        published = [event for _, event in await journal_events(app, ["stress.alert"])]
        assert sorted((e.kind, e.at) for e in published) == sorted(
            (kind, datetime.fromtimestamp(t, UTC)) for _, kind, t in expect_all
        )
        assert {(e.agent_id, e.teams) for e in published} == {(AGENT, ("team-a",))}
        assert app.metric("medlytt_stress_alerts_total", {"kind": "back_to_back"}) == 1
        assert app.metric("medlytt_stress_alerts_total", {"kind": "occupancy"}) == 1
        assert app.metric("medlytt_stress_agents_over_occupancy") == 1
        (figures,) = (await (await world["client"].get("/api/stress/agents")).json())["agents"]
        assert figures == {
            "agent_id": AGENT,
            "state": "available",
            "occupancy": round(1950 / 2130, 3),  # as of the last state change, at 2130
            "measured_at": at(2130).isoformat(),
            "over_occupancy": True,
            "calls_in_a_row": 2,
            "last_after_call_work_seconds": 10.0,
        }
        rows = (await (await world["client"].get("/api/stress/alerts")).json())["alerts"]
        occupancy = next(r for r in rows if r["kind"] == "occupancy")
        assert occupancy["detail"]["occupancy"] == pytest.approx(1940 / 2120, abs=0.001)


async def test_changed_thresholds_change_the_alerts(medlytt, medlytt_client):
    settings = SETTINGS | {
        "back_to_back_calls": 4,  # the 4th call in a row (860) instead of the 3rd
        "long_call_seconds": 800,  # the 700 s call is no longer long
        "after_call_work_seconds": 250,  # 200 s of wrap-up is fine
        "occupancy_threshold": 0.95,  # 0.915 is below
    }
    async with medlytt({"stress": settings}) as app:
        world = await start_team(app, medlytt_client)
        await publish(app, shift_events(SHIFT))
        assert await alerts_of(world["client"]) == expect(
            ("back_to_back", 860), ("abrupt_call_then_next", 860)
        )


async def test_a_team_without_the_module_is_not_measured(medlytt, medlytt_client):
    async with medlytt({"stress": SETTINGS}) as app:
        world = await start_team(app, medlytt_client, module_on=False)
        await publish(app, shift_events(SHIFT))
        assert await alerts_of(world["client"]) == []
        assert app.metric("medlytt_stress_alerts_total", {"kind": "back_to_back"}) == 0


async def test_the_caller_hanging_up_while_the_agent_talks_is_an_abrupt_end(
    medlytt, medlytt_client
):
    """By talk detection: a 100 s call is not short, but the caller hung up on the agent."""
    async with medlytt({"stress": SETTINGS}) as app:
        world = await start_team(app, medlytt_client)
        events = shift_events(
            ((10, 100, "caller", 5), (120, 50, "caller", 5), (180, 50, "agent", 5))
        )
        talk = [
            TalkStarted(at=at(100), source="t", call_id=f"{AGENT}-c0", leg="agent", agent_id=AGENT),
            TalkStarted(at=at(160), source="t", call_id=f"{AGENT}-c1", leg="agent", agent_id=AGENT),
            TalkStopped(
                at=at(165),
                source="t",
                call_id=f"{AGENT}-c1",
                leg="agent",
                agent_id=AGENT,
                duration_seconds=5,
            ),
        ]
        await publish(app, sorted(events + talk, key=lambda e: e.at))
        # c0 (caller hung up while the agent talked) → c1 at once; c1's caller hung up
        # after the agent had stopped: not abrupt, so c2 raises only its third call in a row.
        assert await alerts_of(world["client"]) == expect(
            ("abrupt_call_then_next", 120), ("back_to_back", 180)
        )


async def test_each_role_sees_the_alerts_it_may(medlytt, medlytt_client):
    async with medlytt({"stress": SETTINGS}) as app:
        world = await start_team(app, medlytt_client)
        await publish(app, shift_events(SHIFT))
        client = world["client"]
        for who, count in (("agent", 5), ("sup-a", 5), ("sup-b", 0)):
            response = await client.get("/api/stress/alerts", headers=world[who])
            assert len((await response.json())["alerts"]) == count, who
            response = await client.get("/api/stress/agents", headers=world[who])
            assert len((await response.json())["agents"]) == min(count, 1), who
        since = at(1000).isoformat()
        assert len(await alerts_of(client, since=since)) == 2
        assert len(await alerts_of(client, kind="occupancy")) == 1
        for params, word in (({"kind": "panic"}, "kind"), ({"since": "monday"}, "since")):
            bad = await client.get("/api/stress/alerts", params=params)
            assert bad.status == 422 and word in (await bad.json())["error"]
        refused = await client.get(
            "/api/stress/alerts", params={"agent": AGENT}, headers=world["sup-b"]
        )
        assert refused.status == 403


def reference_alerts(events: list[Event], settings: dict[str, Any]) -> set[tuple[str, str, float]]:
    """The alerts a shift implies, worked out again from the event list alone (a second,
    plainer reading of docs/stress.md, to check the plugin against)."""
    expected: set[tuple[str, str, float]] = set()
    per_agent: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        agent = getattr(event, "agent_id", None)
        if agent:
            per_agent[agent].append(event)
    window = settings["occupancy_window_minutes"] * 60
    for agent, mine in per_agent.items():
        ends = [e for e in mine if isinstance(e, CallEnded)]
        answers = [e for e in mine if isinstance(e, CallAnswered)]
        run = 0
        for answer in answers:
            before = [e for e in ends if e.at <= answer.at]
            previous = before[-1] if before else None
            gap = (answer.at - previous.at).total_seconds() if previous else None
            consecutive = (
                previous is not None
                and gap is not None
                and gap < settings["pause_seconds"]
                and not any(previous.at < a.at < answer.at for a in answers)
            )
            run = run + 1 if consecutive else 1
            if run == settings["back_to_back_calls"]:
                expected.add((agent, "back_to_back", answer.at.timestamp()))
            if consecutive and previous is not None:
                if previous.talk_seconds >= settings["long_call_seconds"]:
                    expected.add((agent, "long_call_then_next", answer.at.timestamp()))
                if (
                    previous.hung_up_by == "caller"
                    and previous.talk_seconds < settings["abrupt_call_seconds"]
                ):
                    expected.add((agent, "abrupt_call_then_next", answer.at.timestamp()))
        states = [e for e in mine if isinstance(e, AgentStateChanged)]
        for n, change in enumerate(states):
            if n and states[n - 1].state is AgentState.WRAP_UP:
                seconds = (change.at - states[n - 1].at).total_seconds()
                if seconds >= settings["after_call_work_seconds"]:
                    expected.add((agent, "after_call_work", change.at.timestamp()))
        over = False
        for n, change in enumerate(states):
            if n and states[n - 1].state is change.state:
                continue
            busy = staffed = 0.0
            for m in range(n + 1):
                start = max(states[m].at.timestamp(), change.at.timestamp() - window)
                end = states[m + 1].at.timestamp() if m < n else change.at.timestamp()
                if end <= start:
                    continue
                if states[m].state in (AgentState.ON_CALL, AgentState.WRAP_UP):
                    busy += end - start
                if states[m].state not in (AgentState.PAUSED, AgentState.LOGGED_OUT):
                    staffed += end - start
            if staffed < settings["occupancy_min_staffed_minutes"] * 60 or not staffed:
                continue
            if busy / staffed < settings["occupancy_threshold"]:
                over = False
            elif not over:
                over = True
                expected.add((agent, "occupancy", change.at.timestamp()))
    return expected


#: A demo center too busy for its four agents (one queue), and thresholds for it.
DEMO = {
    "agents": 4,
    "pauses_per_agent_hour": 0.5,
    "queues": [
        {
            "name": "support",
            "calls_per_hour": 110,
            "talk_mean_seconds": 170.0,
            "patience_mean_seconds": 900.0,
        }
    ],
}
DEMO_STRESS = SETTINGS | {"back_to_back_calls": 4, "after_call_work_seconds": 40}


def demo_shift(seed: int, start: datetime, hours: float = 3) -> list[Event]:
    settings = msgspec.convert(DEMO | {"seed": seed}, DemoSettings)
    return list(ContactCenterSimulation(settings, start=start, seed=seed).run(hours * 3600))


async def test_a_seeded_demo_shift_raises_exactly_the_alerts_it_implies(medlytt, medlytt_client):
    """Three simulated hours of the demo's simulation, fed through the app."""
    events = demo_shift(3, T0)
    settings = DEMO_STRESS
    async with medlytt({"stress": settings}) as app:
        client = await medlytt_client(app)
        for n in range(4):
            add_user_with_token(
                app, f"demo{n}", "agent", teams=["floor"], agent_id=f"DEMO/{1001 + n}"
            )
        assert (await client.put("/api/teams/floor/modules/stress", json={"active": True})).ok
        await publish(app, events)
        got = set(await alerts_of(client))
        want = reference_alerts(events, settings)
        assert {kind for _, kind, _ in want} >= {"back_to_back", "occupancy", "after_call_work"}
        assert got == want


async def test_the_development_plan_is_the_agents_to_read_and_their_leaders_to_write(
    medlytt, medlytt_client
):
    async with medlytt({"stress": SETTINGS}) as app:
        world = await start_team(app, medlytt_client)
        client = world["client"]
        path = f"/api/development-plans/{AGENT}"
        assert (await client.get(path, headers=world["agent"])).status == 404  # none yet
        plan = {
            "stress_pattern": "Rushes the close after a long call.",
            "goals": ["Take 30 s between calls after a call over 10 minutes"],
            "techniques": ["Three slow breaths before answering", "One task at a time"],
            "follow_ups": [
                {"date": "2026-12-15", "topic": "Breaths after long calls"},
                {"date": "2026-12-01", "topic": "Start", "done": True, "outcome": "Agreed"},
            ],
        }
        assert (await client.put(path, json=plan, headers=world["sup-b"])).status == 404
        assert (await client.put(path, json=plan, headers=world["agent"])).status == 403
        written = await client.put(path, json=plan, headers=world["sup-a"])
        assert written.status == 200, await written.text()
        assert [f["date"] for f in (await written.json())["follow_ups"]] == [
            "2026-12-01",
            "2026-12-15",
        ]
        notes = await client.put(
            f"{path}/notes", json={"notes": "Mondays are the worst."}, headers=world["agent"]
        )
        assert notes.status == 200, await notes.text()
        again = await client.put(path, json=plan | {"goals": ["Breathe"]}, headers=world["sup-a"])
        assert again.status == 200
        mine = await (await client.get(path, headers=world["agent"])).json()
        assert mine["goals"] == ["Breathe"]
        assert mine["agent_notes"] == "Mondays are the worst."  # the leader's PUT kept it
        assert mine["updated_by"] == "sup-a"
        assert set(mine["alerts_last_30_days"]) >= {"occupancy", "back_to_back"}
        assert (await client.get(path, headers=world["sup-b"])).status == 404
        bad = await client.put(
            path, json={"follow_ups": [{"date": "soon"}]}, headers=world["sup-a"]
        )
        assert bad.status == 422 and "2026-12-15" in (await bad.json())["error"]
        other = await client.put(
            "/api/development-plans/PJSIP/2001/notes", json={"notes": "x"}, headers=world["agent"]
        )
        assert other.status == 404


async def test_the_demo_gateways_day_so_far_raises_exactly_the_alerts_it_implies(
    medlytt, medlytt_client
):
    """The demo gateway itself, seeded: its three hours of history are published at start
    (the team must have the module on before, so a first run sets that up)."""
    async with medlytt() as app:
        client = await medlytt_client(app)
        for n in range(4):
            add_user_with_token(
                app, f"demo{n}", "agent", teams=["floor"], agent_id=f"DEMO/{1001 + n}"
            )
        assert (await client.put("/api/teams/floor/modules/stress", json={"active": True})).ok
    demo = DEMO | {"enabled": True, "seed": 11, "history_hours": 3, "speed": 1e-6}
    async with medlytt({"demo": demo, "stress": DEMO_STRESS}) as app:
        await wait_until(lambda: app.state.queues, timeout=60)
        ((_, first),) = await journal_events(app, ["queue.configured"], limit=1)
        events = demo_shift(11, first.at)  # the same day, from the time the demo opened
        types = {event.type for event in events}
        for _ in range(600):  # the history is published at start, one instant at a time
            if len(await journal_events(app, types, limit=len(events) + 1)) >= len(events):
                break
            await asyncio.sleep(0.1)
        await app.settle(timeout=60)
        assert len(await journal_events(app, types, limit=len(events) + 1)) == len(events)
        client = await medlytt_client(app)
        got = set(await alerts_of(client))
        want = reference_alerts(events, DEMO_STRESS)
        assert {kind for _, kind, _ in want} >= {"back_to_back", "occupancy"}
        assert got == want
