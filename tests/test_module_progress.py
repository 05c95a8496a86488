"""Module progress: a quarter simulated with a test clock shows the activities done in a
module's period against the team's monitoring plan, and the module forms' mean score per
month; what happened while the plugin was not running comes from the journal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from medlytt import CompetenceModule, Event, hookimpl, utcnow
from medlytt.plugins.monitoring.events import MonitoringStarted, MonitorMode
from medlytt.plugins.mystery_calls.events import MysteryCallFinished
from medlytt.plugins.quality.events import CalibrationClosed, EvaluationAnswered, EvaluationCreated
from medlytt.plugins.stress.events import DevelopmentPlanUpdated
from medlytt.testing import add_user_with_token

A1, A2, B1 = "PJSIP/1001", "PJSIP/1002", "PJSIP/2001"
SINCE = datetime(2026, 9, 1, tzinfo=UTC)
QUARTER_END = datetime(2026, 12, 1, tzinfo=UTC)
FORM = "stress-management"  # the stress module's own form


def day(month: int, day_: int) -> datetime:
    return datetime(2026, month, day_, 10, 0, tzinfo=UTC)


def listening(n: int, when: datetime, agent: str, form: str = FORM, score: float = 80.0) -> Any:
    return EvaluationCreated(
        at=when,
        source="quality",
        evaluation_id=f"e{n}",
        agent_id=agent,
        evaluator="sup-a",
        form=form,
        form_version=1,
        subject_kind="call",
        subject_id=f"c{n}",
        score=score,
        passed=True,
    )


def quarter() -> list[Any]:
    """What team-a did in September, October and November (and what must not count)."""
    events: list[Any] = []
    n = iter(range(1000))
    # September: 5 listenings, 3 of them on the module's form (50, 75, 100: mean 75).
    for score in (50.0, 75.0, 100.0):
        events.append(listening(next(n), day(9, 10), A1, score=score))
    events.append(listening(next(n), day(9, 12), A2, form="phone-technique", score=10.0))
    events.append(listening(next(n), day(9, 13), A2, form="phone-technique", score=20.0))
    events.append(
        CalibrationClosed(
            at=day(9, 20), source="quality", calibration_id="k1", team="team-a", form=FORM
        )
    )
    events.append(
        MonitoringStarted(
            at=day(9, 21),
            source="monitoring",
            session_id="s1",
            call_id="c-live",
            agent_id=A1,
            supervisor="sup-a",
            mode=MonitorMode.LISTEN,
        )
    )
    # October: 8 listenings on the module's form (mean 90), 2 feedback rounds, 1 answered
    # mystery call and 1 nobody answered.
    for k in range(8):
        events.append(listening(next(n), day(10, 2 + k), (A1, A2)[k % 2], score=90.0))
    for k in range(2):
        events.append(
            EvaluationAnswered(
                at=day(10, 20 + k),
                source="quality",
                evaluation_id=f"e{k}",
                agent_id=A1,
                disputed=False,
            )
        )
    events.append(
        MysteryCallFinished(
            at=day(10, 25),
            source="mystery_calls",
            mystery_call_id="m1",
            outcome="answered",
            agent_id=A2,
        )
    )
    events.append(
        MysteryCallFinished(
            at=day(10, 26), source="mystery_calls", mystery_call_id="m2", outcome="no_answer"
        )
    )
    # November: 6 listenings (not on the module's form) and a follow-up of A1's plan.
    for k in range(6):
        events.append(listening(next(n), day(11, 3 + k), A2, form="phone-technique"))
    events.append(
        DevelopmentPlanUpdated(
            at=day(11, 15), source="stress", agent_id=A1, by="sup-a", part="plan"
        )
    )
    # Not team-a's, or before the period: never counted.
    events.append(listening(next(n), day(10, 5), B1))
    events.append(
        CalibrationClosed(
            at=day(10, 5), source="quality", calibration_id="k2", team="team-b", form=FORM
        )
    )
    events.append(listening(next(n), datetime(2026, 8, 31, 23, 0, tzinfo=UTC), A1))
    return events


async def set_up(app: Any, medlytt_client: Any) -> dict[str, Any]:
    tokens = {
        "a1": add_user_with_token(app, "a1", "agent", teams=["team-a"], agent_id=A1),
        "a2": add_user_with_token(app, "a2", "agent", teams=["team-a"], agent_id=A2),
        "b1": add_user_with_token(app, "b1", "agent", teams=["team-b"], agent_id=B1),
        "sup-a": add_user_with_token(app, "sup-a", "supervisor", teams=["team-a"]),
        "sup-b": add_user_with_token(app, "sup-b", "supervisor", teams=["team-b"]),
    }
    client = await medlytt_client(app)
    assert (await client.put("/api/teams/team-a/modules/stress", json={"active": True})).ok
    assert (await client.put("/api/plans/team-a", json={"per_agent_per_month": 4})).ok
    # The module was switched on at the start of the quarter (the core stamps "now").
    app.storage.run_sync(
        lambda db: db.execute(
            "UPDATE module_activations SET since = ? WHERE team = 'team-a' AND module = 'stress'",
            [SINCE.isoformat()],
        )
    )
    await app.modules.refresh(app)
    return {"client": client, **{k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}}


async def progress_of(client: Any, team: str, headers: dict[str, str] | None = None) -> Any:
    response = await client.get("/api/progress", params={"team": team}, headers=headers or {})
    assert response.status == 200, await response.text()
    (row,) = (await response.json())["teams"]
    return row


def module(row: dict[str, Any], module_id: str) -> dict[str, Any]:
    return next(m for m in row["modules"] if m["module"] == module_id)


async def test_a_quarter_shows_the_activities_against_the_plan(medlytt, medlytt_client):
    async with medlytt() as app:
        world = await set_up(app, medlytt_client)
        service = app.plugin_state["module_progress"]
        for event in quarter():
            app.publish(event)
        await app.settle()
        service.clock = lambda: QUARTER_END
        stress = module(await progress_of(world["client"], "team-a"), "stress")
        assert stress["active"] and stress["since"] == SINCE.isoformat()
        assert stress["minimum_reached"] and stress["days"] == 91.0
        assert stress["activities"] == {
            "listening": 19,
            "mystery_call": 1,
            "calibration": 1,
            "monitoring": 1,
            "feedback": 2,
            "development_plan.updated": 1,
        }
        assert stress["plan"] == {
            "per_agent_per_month": 4,
            "agents": 2,
            "listenings_planned": 24.0,  # 4 a month x 2 agents x 3 months
            "listenings_done": 19,
            "share_done": round(19 / 24, 3),
        }
        months = {m["month"]: m for m in stress["months"]}
        assert list(months) == ["2026-09", "2026-10", "2026-11"]
        assert [months[m]["activities"]["listening"] for m in months] == [5, 8, 6]
        assert [months[m]["listenings_planned"] for m in months] == [8.0, 8.0, 8.0]
        assert [months[m]["module_form_listenings"] for m in months] == [3, 8, 0]
        assert [months[m]["mean_score"] for m in months] == [75.0, 90.0, None]
        assert {a["agent_id"]: a["listenings"] for a in stress["agents"]} == {A1: 7, A2: 12}
        # A module the team never switched on is listed without a period.
        others = (await progress_of(world["client"], "team-a"))["modules"]
        assert any(m.get("period", "") is None for m in others if m["module"] != "stress")
        # The metrics of the module's current period.
        await service.refresh()
        labels = {"team": "team-a", "module": "stress"}
        assert app.metric("medlytt_module_active_days", labels) == 91.0
        assert app.metric("medlytt_module_minimum_reached", labels) == 1.0
        assert app.metric("medlytt_module_listenings_planned", labels) == 24.0
        assert app.metric("medlytt_module_activities", labels | {"kind": "feedback"}) == 2.0


async def test_the_minimum_three_months_is_not_reached_a_day_early(medlytt, medlytt_client):
    async with medlytt() as app:
        world = await set_up(app, medlytt_client)
        app.plugin_state["module_progress"].clock = lambda: datetime(2026, 11, 30, tzinfo=UTC)
        stress = module(await progress_of(world["client"], "team-a"), "stress")
        assert not stress["minimum_reached"]
        assert stress["minimum_reached_on"] == QUARTER_END.isoformat()
        # 30 of November's 30 days minus one: 4 x 2 x (2 + 29/30) planned.
        assert stress["plan"]["listenings_planned"] == round(8 * (2 + 29 / 30), 1)


async def test_what_happened_while_the_plugin_was_off_comes_from_the_journal(
    medlytt, medlytt_client
):
    async with medlytt({"module_progress": {"enabled": False}}) as app:
        await set_up(app, medlytt_client)
        for event in quarter():
            app.publish(event)
        await app.settle()
    async with medlytt() as app:
        app.plugin_state["module_progress"].clock = lambda: QUARTER_END
        client = await medlytt_client(app)
        stress = module(await progress_of(client, "team-a"), "stress")
        assert stress["activities"]["listening"] == 19
        assert stress["activities"]["development_plan.updated"] == 1
        # Seen again (a second catch-up, or live and journalled): still counted once.
        await app.plugin_state["module_progress"].catch_up()
        again = module(await progress_of(client, "team-a"), "stress")
        assert again["activities"] == stress["activities"]


async def test_who_sees_which_teams_progress(medlytt, medlytt_client):
    async with medlytt() as app:
        world = await set_up(app, medlytt_client)
        client = world["client"]
        agent_view = module(await progress_of(client, "team-a", world["a1"]), "stress")
        assert "agents" not in agent_view and agent_view["plan"]["agents"] == 2
        leader_view = module(await progress_of(client, "team-a", world["sup-a"]), "stress")
        assert [a["agent_id"] for a in leader_view["agents"]] == [A1, A2]
        for who in ("b1", "sup-b"):
            refused = await client.get(
                "/api/progress", params={"team": "team-a"}, headers=world[who]
            )
            assert refused.status == 403, who
        mine = await (await client.get("/api/progress", headers=world["sup-b"])).json()
        assert [t["team"] for t in mine["teams"]] == ["team-b"]
        assert "no monitoring plan" in mine["teams"][0]["plan_note"]
        everyone = await (await client.get("/api/progress")).json()
        assert [t["team"] for t in everyone["teams"]] == ["team-a", "team-b"]
        for params, status in (({"team": "nobody"}, 404), ({"team": " "}, 422), ({"x": "1"}, 422)):
            assert (await client.get("/api/progress", params=params)).status == status, params


class GreetingCoached(Event, frozen=True, tag="greeting.coached"):
    """A third party's own activity event."""

    agent_id: str


class GreetingModule:
    """A third party's eighth module, with an activity of its own."""

    @hookimpl
    def medlytt_competence_modules(self) -> list[CompetenceModule]:
        return [
            CompetenceModule(
                id="greeting-time",
                number=8,
                title="Greeting time",
                activities=("greeting.coached",),
            )
        ]

    @hookimpl
    def medlytt_event_types(self) -> list[type[Event]]:
        return [GreetingCoached]


async def test_a_third_partys_module_and_its_own_activities_are_followed(medlytt, medlytt_client):
    async with medlytt(plugins=[("greeting", GreetingModule())]) as app:
        world = await set_up(app, medlytt_client)
        client = world["client"]
        assert (
            await client.put("/api/teams/team-a/modules/greeting-time", json={"active": True})
        ).ok
        app.publish(GreetingCoached(at=utcnow(), source="greeting", agent_id=A1))
        app.publish(GreetingCoached(at=utcnow(), source="greeting", agent_id=B1))  # team-b
        app.publish(listening(1, utcnow(), A2, form="phone-technique"))
        await app.settle()
        greeting = module(await progress_of(client, "team-a"), "greeting-time")
        assert greeting["number"] == 8 and greeting["active"]
        assert greeting["activities"]["greeting.coached"] == 1
        assert greeting["activities"]["listening"] == 1
        assert not greeting["minimum_reached"]


async def test_the_console_page_shows_each_team_the_caller_may_see(medlytt, medlytt_client):
    """The console's "Module progress" page: the same teams as the API, per module the
    period and the activities; another team's agent sees their own team only."""
    async with medlytt() as app:
        world = await set_up(app, medlytt_client)
        client = world["client"]
        page = await client.get("/console/x/module-progress", headers=world["sup-a"])
        html = await page.text()
        assert page.status == 200, html
        assert "Team team-a" in html and "Team team-b" not in html
        api_row = module(await progress_of(client, "team-a", world["sup-a"]), "stress")
        assert f"<td>{api_row['since'][:10]}</td>" in html
        assert f"<td>{api_row['activities']['listening']}</td>" in html
        other = await (await client.get("/console/x/module-progress", headers=world["b1"])).text()
        assert "Team team-b" in other and "Team team-a" not in other
        norsk = await client.get(
            "/console/x/module-progress", headers={**world["sup-a"], "Accept-Language": "nb"}
        )
        assert "Medlyttinger gjort / planlagt" in await norsk.text()
