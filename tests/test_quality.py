"""The quality plugin through its API: forms and versions, scoring, transparency to the
agent, mystery calls evaluated, monitoring plans over a month, calibration rounds.

The end-to-end run with a real monitored call is tests/asterisk/test_quality_e2e.py."""

from __future__ import annotations

import csv
import io
import math
import struct
import wave
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from medlytt import save_recording
from medlytt.plugins.mystery_calls import store as mystery_store
from medlytt.testing import add_user_with_token, wait_until

A1, A2, B1 = "PJSIP/1001", "PJSIP/1002", "PJSIP/2001"

FORM = {
    "id": "greeting",
    "title": "Greeting",
    "sections": [
        {
            "title": "Opening",
            "items": [
                {"id": "name", "text": "Says own name", "scale": {"min": 0, "max": 1}, "weight": 1},
                {
                    "id": "tone",
                    "text": "Friendly tone",
                    "scale": {"min": 1, "max": 5},
                    "weight": 3,
                    "allow_na": True,
                },
                {
                    "id": "identity",
                    "text": "Checks the caller's identity before account details",
                    "scale": {"min": 0, "max": 1},
                    "critical": True,
                    "allow_na": True,
                },
            ],
        }
    ],
}


def wav(seconds: float = 1.0) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(struct.pack("<h", 0) * int(8000 * seconds))
    return out.getvalue()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def world(medlytt, medlytt_client):
    async with medlytt() as app:
        tokens = {
            "a1": add_user_with_token(app, "a1", "agent", teams=["team-a"], agent_id=A1),
            "a2": add_user_with_token(app, "a2", "agent", teams=["team-a"], agent_id=A2),
            "b1": add_user_with_token(app, "b1", "agent", teams=["team-b"], agent_id=B1),
            "sup-a": add_user_with_token(app, "sup-a", "supervisor", teams=["team-a"]),
            "sup-b": add_user_with_token(app, "sup-b", "supervisor", teams=["team-b"]),
            "coach": add_user_with_token(app, "coach", "supervisor", teams=["team-a"]),
            "admin": add_user_with_token(app, "admin", "admin"),
        }
        client = await medlytt_client(app, role=None)
        yield app, client, tokens


async def post_form(client, tokens, form=FORM) -> dict[str, Any]:
    response = await client.post("/api/forms", json=form, headers=bearer(tokens["sup-a"]))
    assert response.status == 201, await response.text()
    return await response.json()


async def recording(app, agent: str = A1, call: str = "c1") -> str:
    return await save_recording(app, wav(), source="monitoring", call_id=call, agent_id=agent)


async def evaluate(client, token, subject, scores, agent=None, **extra) -> Any:
    body = {"form": "greeting", "subject": subject, "scores": scores, **extra}
    if agent:
        body["agent"] = agent
    return await client.post("/api/evaluations", json=body, headers=bearer(token))


# ------------------------------------------------------------------------------- scoring


@pytest.mark.parametrize(
    ("scores", "score", "raw", "passed"),
    [
        ({"name": 1, "tone": 5, "identity": 1}, 100.0, 100.0, True),
        # name 1 (w1) + tone 3 -> 0.5 (w3) + identity 1 (w1): (1 + 1.5 + 1) / 5
        ({"name": 1, "tone": 3, "identity": 1}, 70.0, 70.0, True),
        # N/A left out of the weights: (0 + 3 * 0.75) / 4
        ({"name": 0, "tone": 4, "identity": "na"}, 56.25, 56.25, True),
        # a failed critical item fails the whole: score 0, the items' score kept beside it
        ({"name": 1, "tone": 5, "identity": 0}, 0.0, 80.0, False),
        ({"name": "na", "tone": "na", "identity": "na"}, None, None, True),
    ],
)
async def test_the_score_follows_weights_na_and_critical_items(world, scores, score, raw, passed):
    app, client, tokens = world
    await post_form(client, tokens)
    if scores["name"] == "na":  # name may not be N/A: the refusal names the item
        response = await evaluate(
            client, tokens["sup-a"], {"recording": await recording(app)}, scores
        )
        assert response.status == 422
        assert "'name' may not be N/A" in (await response.json())["error"]
        return
    response = await evaluate(client, tokens["sup-a"], {"recording": await recording(app)}, scores)
    assert response.status == 201, await response.text()
    body = await response.json()
    assert (body["score"], body["raw_score"], body["passed"]) == (score, raw, passed)
    assert body["failed_critical"] == ([] if passed else ["identity"])
    assert body["agent_id"] == A1  # taken from the recording


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ({"name": 1, "tone": 5}, "item 'identity' has no score"),
        ({"name": 1, "tone": 6, "identity": 1}, "item 'tone' must be from 1 to 5, got 6"),
        ({"name": 1, "tone": 5, "identity": 1, "extra": 1}, "has no item 'extra'"),
        ({"name": 1.5, "tone": 5, "identity": 1}, "scores"),
    ],
)
async def test_scores_that_do_not_fit_the_form_are_refused_by_name(world, scores, message):
    app, client, tokens = world
    await post_form(client, tokens)
    response = await evaluate(client, tokens["sup-a"], {"recording": await recording(app)}, scores)
    assert response.status == 422
    assert message in (await response.json())["error"]


async def test_an_edited_form_is_a_new_version_and_old_scores_stay(world):
    app, client, tokens = world
    await post_form(client, tokens)
    first = await evaluate(
        client,
        tokens["sup-a"],
        {"recording": await recording(app)},
        {"name": 1, "tone": 3, "identity": 1},
    )
    old = await first.json()
    changed = {**FORM, "id": None}
    changed["sections"] = [
        {
            **FORM["sections"][0],
            "items": [
                dict(i, weight=10) if i["id"] == "name" else i for i in FORM["sections"][0]["items"]
            ],
        }
    ]
    response = await client.put(
        "/api/forms/greeting", json=changed, headers=bearer(tokens["admin"])
    )
    assert response.status == 201, await response.text()
    assert (await response.json())["version"] == 2
    versions = await (await client.get("/api/forms/greeting", headers=bearer(tokens["a1"]))).json()
    assert [v["version"] for v in versions["versions"]] == [1, 2]
    again = await client.get(f"/api/evaluations/{old['id']}", headers=bearer(tokens["a1"]))
    kept = await again.json()
    assert (kept["form_version"], kept["score"]) == (1, 70.0)
    assert kept["form_body"]["sections"][0]["items"][0]["weight"] == 1
    # the same scores on version 2: (10 + 1.5 + 1) / 14
    second = await evaluate(
        client,
        tokens["sup-a"],
        {"recording": await recording(app)},
        {"name": 1, "tone": 3, "identity": 1},
    )
    new = await second.json()
    assert new["form_version"] == 2 and math.isclose(new["score"], 100 * 12.5 / 14, abs_tol=1e-4)


async def test_forms_refuse_what_a_score_cannot_be_computed_on(world):
    _app, client, tokens = world
    await post_form(client, tokens)
    again = await client.post("/api/forms", json=FORM, headers=bearer(tokens["sup-a"]))
    assert again.status == 409
    bad = {
        **FORM,
        "id": "bad",
        "sections": [{"title": "S", "items": [{"id": "x", "text": "X"}, {"id": "x", "text": "Y"}]}],
    }
    response = await client.post("/api/forms", json=bad, headers=bearer(tokens["sup-a"]))
    assert response.status == 422
    assert "'x' appears twice" in (await response.json())["error"]
    agent = await client.post(
        "/api/forms", json={**FORM, "id": "mine"}, headers=bearer(tokens["a1"])
    )
    assert agent.status == 403


# ------------------------------------------------------------------------- transparency


async def test_the_agent_sees_answers_and_disputes_their_own_and_nobody_else_does(world):
    app, client, tokens = world
    await post_form(client, tokens)
    made = await evaluate(
        client,
        tokens["sup-a"],
        {"recording": await recording(app)},
        {"name": 1, "tone": 4, "identity": 1},
        comments={"tone": "Warm, but rushed at the end"},
        comment="Good call",
    )
    evaluation = await made.json()
    mine = await (await client.get("/api/evaluations", headers=bearer(tokens["a1"]))).json()
    assert [(e["id"], e["comments"]["tone"]) for e in mine["evaluations"]] == [
        (evaluation["id"], "Warm, but rushed at the end")
    ]
    for who in ("a2", "b1", "sup-b"):
        listed = await (await client.get("/api/evaluations", headers=bearer(tokens[who]))).json()
        assert listed["evaluations"] == [], who
        one = await client.get(f"/api/evaluations/{evaluation['id']}", headers=bearer(tokens[who]))
        assert one.status == 403, who
    other = await client.post(
        f"/api/evaluations/{evaluation['id']}/acknowledge", json={}, headers=bearer(tokens["a2"])
    )
    assert other.status == 403
    leader = await client.post(
        f"/api/evaluations/{evaluation['id']}/acknowledge", json={}, headers=bearer(tokens["sup-a"])
    )
    assert leader.status == 403  # only the agent answers
    no_reason = await client.post(
        f"/api/evaluations/{evaluation['id']}/dispute", json={}, headers=bearer(tokens["a1"])
    )
    assert no_reason.status == 422
    disputed = await client.post(
        f"/api/evaluations/{evaluation['id']}/dispute",
        json={"comment": "The customer asked me to hurry"},
        headers=bearer(tokens["a1"]),
    )
    assert disputed.status == 200
    assert (await disputed.json())["status"] == "disputed"
    twice = await client.post(
        f"/api/evaluations/{evaluation['id']}/acknowledge", json={}, headers=bearer(tokens["a1"])
    )
    assert twice.status == 409
    inbox = await client.get("/api/evaluations?status=disputed", headers=bearer(tokens["sup-a"]))
    assert [e["answer_comment"] for e in (await inbox.json())["evaluations"]] == [
        "The customer asked me to hurry"
    ]


async def test_a_supervisor_of_another_team_may_not_evaluate_the_agent(world):
    app, client, tokens = world
    await post_form(client, tokens)
    response = await evaluate(
        client,
        tokens["sup-b"],
        {"recording": await recording(app)},
        {"name": 1, "tone": 4, "identity": 1},
    )
    assert response.status == 403
    mismatch = await evaluate(
        client,
        tokens["sup-a"],
        {"recording": await recording(app)},
        {"name": 1, "tone": 4, "identity": 1},
        agent=A2,
    )
    assert mismatch.status == 422
    assert "is agent 'PJSIP/1001'" in (await mismatch.json())["error"]
    missing = await evaluate(
        client, tokens["sup-a"], {"recording": "nope"}, {"name": 1, "tone": 4, "identity": 1}
    )
    assert missing.status == 404


async def test_export_gives_one_agents_evaluations_as_csv_and_json(world):
    app, client, tokens = world
    await post_form(client, tokens)
    for tone in (2, 5):
        await evaluate(
            client,
            tokens["sup-a"],
            {"recording": await recording(app)},
            {"name": 1, "tone": tone, "identity": 1},
            comments={"tone": f"tone {tone}"},
        )
    response = await client.get("/api/evaluations/export?format=csv", headers=bearer(tokens["a1"]))
    assert response.status == 200
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["item"], r["item_score"]) for r in rows if r["item"] == "tone"] == [
        ("tone", "2"),
        ("tone", "5"),
    ]
    assert len(rows) == 6
    as_json = await (
        await client.get(f"/api/evaluations/export?agent={A1}", headers=bearer(tokens["sup-a"]))
    ).json()
    assert len(as_json["evaluations"]) == 2
    other = await client.get(f"/api/evaluations/export?agent={A1}", headers=bearer(tokens["a2"]))
    assert other.status == 403


async def test_evaluating_a_mystery_call_publishes_it_to_the_agent(world):
    app, client, tokens = world
    await post_form(client, tokens)
    rec = await save_recording(
        app, wav(), source="mystery_calls", call_id="m-call", agent_id=A1, hidden_from_agent=True
    )
    now = datetime.now(UTC).isoformat()
    app.storage.run_sync(
        lambda db: mystery_store.insert_call(
            db,
            {
                "id": "mc1",
                "target": "queue:support",
                "started_at": now,
                "finished_at": now,
                "outcome": "answered",
                "agent_id": A1,
                "call_id": "m-call",
                "recording_id": rec,
            },
        )
    )
    before = await client.get("/api/mystery-calls/mc1", headers=bearer(tokens["a1"]))
    assert before.status == 404  # not evaluated yet: the agent does not see it
    made = await evaluate(
        client, tokens["sup-a"], {"mystery_call": "mc1"}, {"name": 1, "tone": 5, "identity": 1}
    )
    assert made.status == 201, await made.text()
    evaluation = await made.json()
    assert evaluation["recording_id"] == rec

    def published() -> bool:
        row = app.storage.run_sync(lambda db: mystery_store.get_call(db, "mc1"))
        return row["evaluation_id"] is not None

    await wait_until(published, timeout=5)
    after = await client.get("/api/mystery-calls/mc1", headers=bearer(tokens["a1"]))
    assert after.status == 200
    assert (await after.json())["evaluation_id"] == evaluation["id"]
    audio = await client.get(f"/api/recordings/{rec}", headers=bearer(tokens["a1"]))
    assert audio.status == 200


# -------------------------------------------------------------------------------- plans


async def test_a_month_of_the_plan_gives_the_due_and_overdue_it_implies(world):
    """4 listenings a month, at least 1 live, walked through November with a test clock:
    a1 is evaluated on the 5th and 20th (recordings), a2 never."""
    app, client, tokens = world
    await post_form(client, tokens)
    service = app.plugin_state["quality"]
    day = lambda d, h=12: datetime(2026, 11, d, h, tzinfo=UTC)  # noqa: E731
    service.clock = lambda: day(1, 0)
    plan = await client.put(
        "/api/plans/team-a",
        json={"per_agent_per_month": 4, "live_at_least": 1},
        headers=bearer(tokens["sup-a"]),
    )
    assert plan.status == 200, await plan.text()
    refused = await client.put(
        "/api/plans/team-a", json={"per_agent_per_month": 4}, headers=bearer(tokens["sup-b"])
    )
    assert refused.status == 403
    bad = await client.put(
        "/api/plans/team-a",
        json={"per_agent_per_month": 2, "live_at_least": 3},
        headers=bearer(tokens["sup-a"]),
    )
    assert bad.status == 422 and "live_at_least" in (await bad.json())["error"]

    async def status(when: datetime, token: str = "sup-a") -> dict[str, Any]:
        service.clock = lambda: when
        response = await client.get("/api/plans/team-a/status", headers=bearer(tokens[token]))
        assert response.status == 200, await response.text()
        body = await response.json()
        return {
            a["agent_id"]: (a["done"], a["due"], a["overdue"], a["live_due"])
            for a in body["agents"]
        }

    for when in (day(5), day(20)):
        service.clock = lambda when=when: when
        made = await evaluate(
            client,
            tokens["sup-a"],
            {"recording": await recording(app)},
            {"name": 1, "tone": 4, "identity": 1},
        )
        assert made.status == 201
    # 30 days; on the 1st at 00:00 nothing is expected yet
    assert await status(day(1, 0)) == {A1: (0, 4, 0, 1), A2: (0, 4, 0, 1)}
    # on the 16th at 00:00 half the month is over: 2 expected
    assert await status(day(16, 0)) == {A1: (1, 3, 1, 1), A2: (0, 4, 2, 1)}
    # the 30th at noon: floor(4 * 29.5 / 30) = 3 expected
    assert await status(day(30)) == {A1: (2, 2, 1, 1), A2: (0, 4, 3, 1)}
    # the month read afterwards expects all four
    service.clock = lambda: day(30) + timedelta(days=3)
    past = await client.get(
        "/api/plans/team-a/status?month=2026-11", headers=bearer(tokens["sup-a"])
    )
    assert {a["agent_id"]: a["overdue"] for a in (await past.json())["agents"]} == {A1: 2, A2: 4}
    # an agent reads the plan and only their own row; another team's agent reads neither
    service.clock = lambda: day(30)
    plans = await (await client.get("/api/plans", headers=bearer(tokens["a1"]))).json()
    assert [(p["team"], p["per_agent_per_month"], p["live_at_least"]) for p in plans["plans"]] == [
        ("team-a", 4, 1)
    ]
    assert await status(day(30), "a1") == {A1: (2, 2, 1, 1)}
    assert (await (await client.get("/api/plans", headers=bearer(tokens["b1"]))).json())[
        "plans"
    ] == []
    other = await client.get("/api/plans/team-a/status", headers=bearer(tokens["b1"]))
    assert other.status == 403
    # the metric: overdue listenings of the team at the last refresh (the 30th: 1 + 3)
    await service.refresh()
    metrics = await (await client.get("/metrics", headers=bearer(tokens["admin"]))).text()
    assert 'medlytt_monitoring_plan_overdue{team="team-a"} 4.0' in metrics
    assert 'medlytt_evaluations_total{form="greeting"} 2.0' in metrics
    # both scored (1 + 3 * 0.75 + 1) / 5 = 85
    assert 'medlytt_evaluation_score_bucket{form="greeting",le="80"} 0.0' in metrics
    assert 'medlytt_evaluation_score_bucket{form="greeting",le="90"} 2.0' in metrics
    assert 'medlytt_evaluation_score_sum{form="greeting"} 170.0' in metrics


# --------------------------------------------------------------------------- calibration


async def test_a_calibration_round_is_blind_until_closed_and_reports_agreement(world):
    """3 evaluators score 5 recordings; the report's alpha is the agreement module's over
    the very scores given (checked against the independent ``krippendorff`` package)."""
    import krippendorff

    app, client, tokens = world
    await post_form(client, tokens)
    tokens["coach2"] = add_user_with_token(app, "coach2", "supervisor", teams=["team-a"])
    subjects = [{"recording": await recording(app, call=f"c{n}")} for n in range(5)]
    created = await client.post(
        "/api/calibrations",
        json={
            "form": "greeting",
            "subjects": subjects,
            "evaluators": ["sup-a", "coach", "admin"],
            "team": "team-a",
        },
        headers=bearer(tokens["sup-a"]),
    )
    assert created.status == 201, await created.text()
    round_id = (await created.json())["id"]
    tones = {"sup-a": [5, 4, 2, 3, 1], "coach": [5, 4, 3, 3, 1], "admin": [4, 4, 2, 2, "na"]}
    names = {"sup-a": [1, 1, 0, 1, 0], "coach": [1, 0, 0, 1, 1], "admin": [0, 1, 1, 0, 0]}
    for who in tones:
        for n, subject in enumerate(subjects):
            scores = {"name": names[who][n], "tone": tones[who][n], "identity": 1}
            put = await client.put(
                f"/api/calibrations/{round_id}/scores",
                json={"subject": subject, "scores": scores},
                headers=bearer(tokens[who]),
            )
            assert put.status == 200, await put.text()
        # blind: while open everybody sees only their own scores, and no report
        seen = await (
            await client.get(f"/api/calibrations/{round_id}", headers=bearer(tokens[who]))
        ).json()
        assert {s["evaluator"] for s in seen["scores"]} == {who}
    assert seen["progress"] == {"sup-a": 5, "coach": 5, "admin": 5}
    early = await client.get(
        f"/api/calibrations/{round_id}/report", headers=bearer(tokens["sup-a"])
    )
    assert early.status == 409
    outsider = await client.put(
        f"/api/calibrations/{round_id}/scores",
        json={"subject": subjects[0], "scores": {"name": 1, "tone": 1, "identity": 1}},
        headers=bearer(tokens["coach2"]),
    )
    assert outsider.status == 403
    assert (
        await client.get(f"/api/calibrations/{round_id}", headers=bearer(tokens["sup-b"]))
    ).status == 403
    closed = await client.post(
        f"/api/calibrations/{round_id}/close", headers=bearer(tokens["sup-a"])
    )
    assert closed.status == 200
    late = await client.put(
        f"/api/calibrations/{round_id}/scores",
        json={"subject": subjects[0], "scores": {"name": 1, "tone": 1, "identity": 1}},
        headers=bearer(tokens["coach"]),
    )
    assert late.status == 409
    after = await (
        await client.get(f"/api/calibrations/{round_id}", headers=bearer(tokens["coach"]))
    ).json()
    assert len(after["scores"]) == 15
    report = await (
        await client.get(f"/api/calibrations/{round_id}/report", headers=bearer(tokens["coach"]))
    ).json()
    items = {row["item"]: row for row in report["items"]}
    order = ["admin", "coach", "sup-a"]  # evaluators sorted
    tone_data = [[float("nan") if v == "na" else v for v in tones[w]] for w in order]
    name_data = [names[w] for w in order]
    assert items["tone"]["level"] == "ordinal" and items["name"]["level"] == "nominal"
    assert math.isclose(
        items["tone"]["alpha"],
        krippendorff.alpha(reliability_data=tone_data, level_of_measurement="ordinal"),
        abs_tol=1e-9,
    )
    assert math.isclose(
        items["name"]["alpha"],
        krippendorff.alpha(reliability_data=name_data, level_of_measurement="nominal"),
        abs_tol=1e-9,
    )
    assert items["name"]["flagged"] and not items["tone"]["flagged"]
    assert items["identity"]["alpha"] is None and items["identity"]["flagged"]  # no variation
    assert items["tone"]["units"] == 5
    assert {e["evaluator"] for e in report["evaluators"]} == set(order)
    assert all(e["mean_deviation"] is not None for e in report["evaluators"])


async def test_a_team_without_a_recent_round_is_reminded(world):
    app, client, tokens = world
    service = app.plugin_state["quality"]
    await service.refresh()
    rounds = await (await client.get("/api/calibrations", headers=bearer(tokens["sup-a"]))).json()
    assert {"team": "team-a", "age_seconds": None, "due": True} in rounds["teams"]
    assert all(t["team"] == "team-a" for t in rounds["teams"])  # sup-a leads team-a only
    metrics = await (await client.get("/metrics", headers=bearer(tokens["admin"]))).text()
    assert 'medlytt_calibration_due{team="team-a"} 1.0' in metrics
    journal = await (
        await client.get("/api/events?type=calibration.due", headers=bearer(tokens["admin"]))
    ).json()
    await app.journal.flush()
    journal = await (
        await client.get("/api/events?type=calibration.due", headers=bearer(tokens["admin"]))
    ).json()
    assert {e["event"]["team"] for e in journal["events"]} >= {"team-a", "team-b"}


# -------------------------------------------------------------------------------- goals


async def test_conflicting_goals_are_warned_about(medlytt, medlytt_client):
    goals = {"first_contact_resolution": 0.8, "calls_per_hour": 20, "quality_score": 85}
    async with medlytt({"quality": {"goals": goals}}) as app:
        client = await medlytt_client(app)
        body = await (await client.get("/api/quality/goals")).json()
    warnings = body["warnings"]
    assert len(warnings) == 2
    assert "first_contact_resolution and calls_per_hour" in warnings[0]
    assert "180 s per call" in warnings[1]


def test_check_config_prints_the_goal_conflicts(tmp_path):
    from click.testing import CliRunner
    from medlytt.cli import cli

    config = tmp_path / "medlytt.toml"
    config.write_text(
        "[quality.goals]\nfirst_contact_resolution = 0.8\ncalls_per_hour = 12\n"
        f'[storage]\npath = "{tmp_path / "m.db"}"\n'
    )
    result = CliRunner().invoke(cli, ["check-config", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "warning: quality.goals: first_contact_resolution and calls_per_hour" in result.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[quality.goals]\nservice_level = 80\n")
    refused = CliRunner().invoke(cli, ["check-config", "--config", str(bad)])
    assert refused.exit_code == 2
    assert "service_level must be a share between 0 and 1" in refused.stderr
