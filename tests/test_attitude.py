"""Attitude (module 1): 360° rounds anonymous to the agent who receives them, results only
from three answers of a closed round, the weekly well-being check-in shown per team only,
through the API with each role; the aggregation and the answer checks on their own."""

from __future__ import annotations

import json
from typing import Any

import pytest
from medlytt import EvaluationForm, FormItem, FormSection, HttpError, Scale, shipped_forms
from medlytt.plugins.attitude import store
from medlytt.plugins.attitude.answers import aggregate, check_scores
from medlytt.testing import add_user_with_token

A1, A2, B1 = "PJSIP/1001", "PJSIP/1002", "PJSIP/2001"
#: Colleagues of A1 in team a, with names no other field could contain by chance.
COLLEAGUES = ["kari-colleague", "ola-colleague", "per-colleague", "siri-colleague"]
FORM = "attitude-360"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def scores(value: int, receives_feedback: int | None = 4) -> dict[str, int | None]:
    """An answer to the 360° form: every item ``value``, one item its own value (or N/A)."""
    form = next(f for f in shipped_forms("medlytt.plugins.attitude") if f.id == FORM)
    answer: dict[str, int | None] = dict.fromkeys(form.item_ids(), value)
    answer["receives-feedback"] = receives_feedback
    return answer


async def world(app: Any, medlytt_client: Any) -> tuple[Any, dict[str, dict[str, str]]]:
    """Team a (the receiving agent A1, another agent, four colleagues, a supervisor) with the
    module on; team b (an agent, a supervisor) without it; an admin client."""
    who = {
        "receiver": add_user_with_token(app, "receiver", "agent", teams=["a"], agent_id=A1),
        "a2": add_user_with_token(app, "a2", "agent", teams=["a"], agent_id=A2),
        "b1": add_user_with_token(app, "b1", "agent", teams=["b"], agent_id=B1),
        "sup-a": add_user_with_token(app, "sup-a", "supervisor", teams=["a"]),
        "sup-b": add_user_with_token(app, "sup-b", "supervisor", teams=["b"]),
    }
    for n, name in enumerate(COLLEAGUES):
        who[name] = add_user_with_token(app, name, "agent", teams=["a"], agent_id=f"PJSIP/11{n}")
    admin = await medlytt_client(app)
    switched = await admin.put("/api/teams/a/modules/attitude", json={"active": True})
    assert switched.status == 200, await switched.text()
    return admin, {name: bearer(token) for name, token in who.items()}


async def open_round(admin: Any, who: dict[str, Any], colleagues: list[str]) -> str:
    response = await admin.post(
        "/api/attitude/rounds",
        json={"agent": A1, "colleagues": colleagues, "note": "Q4 round"},
        headers=who["sup-a"],
    )
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def answer(admin: Any, who: dict[str, Any], round_id: str, name: str, body: Any) -> Any:
    return await admin.post(
        f"/api/attitude/rounds/{round_id}/answers", json=body, headers=who[name]
    )


async def test_results_open_only_from_three_answers_of_a_closed_round(medlytt, medlytt_client):
    async with medlytt() as app:
        admin, who = await world(app, medlytt_client)
        # Two answers, then closed: nobody ever sees results.
        few = await open_round(admin, who, COLLEAGUES[:3])
        for name, value in zip(COLLEAGUES[:2], (5, 1), strict=True):
            response = await answer(admin, who, few, name, {"scores": scores(value)})
            assert response.status == 201, await response.text()
        view = await (
            await admin.get(f"/api/attitude/rounds/{few}", headers=who["receiver"])
        ).json()
        assert (view["answered"], view["invited"], view["results"]) == (2, 3, None)
        assert "at least 3 have answered" in view["why_no_results"]
        closed = await admin.post(f"/api/attitude/rounds/{few}/close", headers=who["sup-a"])
        assert closed.status == 200 and (await closed.json())["results"] is None
        for reader in ("receiver", "sup-a"):
            view = await (
                await admin.get(f"/api/attitude/rounds/{few}", headers=who[reader])
            ).json()
            assert view["status"] == "closed" and view["results_open"] is False, reader
            assert view["results"] is None and "at least 3" in view["why_no_results"]
        late = await answer(admin, who, few, COLLEAGUES[2], {"scores": scores(3)})
        assert late.status == 409 and "closed" in (await late.json())["error"]
        again = await admin.post(f"/api/attitude/rounds/{few}/close", headers=who["sup-a"])
        assert again.status == 409

        # Three of four answered: still nothing until the supervisor closes it.
        enough = await open_round(admin, who, COLLEAGUES)
        for name, value in zip(COLLEAGUES[:3], (5, 3, 4), strict=True):
            assert (await answer(admin, who, enough, name, {"scores": scores(value)})).status == 201
        view = await (
            await admin.get(f"/api/attitude/rounds/{enough}", headers=who["receiver"])
        ).json()
        assert view["answered"] == 3 and view["results"] is None
        assert "when the round is closed" in view["why_no_results"]
        closed = await admin.post(f"/api/attitude/rounds/{enough}/close", headers=who["sup-a"])
        assert closed.status == 200
        view = await (
            await admin.get(f"/api/attitude/rounds/{enough}", headers=who["receiver"])
        ).json()
        assert view["results_open"] is True and view["results"]["answers"] == 3
        item = view["results"]["sections"][0]["items"][0]
        assert item["id"] == "helps-colleagues" and item["mean"] == 4.0
        assert item["distribution"] == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}

        # Everyone invited answered: the round closes by itself and its results open.
        whole = await open_round(admin, who, COLLEAGUES[:3])
        for name in COLLEAGUES[:3]:
            assert (
                await answer(admin, who, whole, name, {"scores": scores(2, None)})
            ).status == 201
        view = await (
            await admin.get(f"/api/attitude/rounds/{whole}", headers=who["receiver"])
        ).json()
        assert view["status"] == "closed" and view["results_open"] is True
        na_item = view["results"]["sections"][0]["items"][2]
        assert (na_item["id"], na_item["answers"], na_item["na"]) == ("receives-feedback", 0, 3)
        assert app.metric("medlytt_attitude_rounds", {"status": "closed"}) == 3
        assert app.metric("medlytt_attitude_answers_total") == 8


async def test_no_role_can_tell_who_said_what(medlytt, medlytt_client):
    """Two rounds get the same answers from different colleagues in a different order: every
    reader who may see them gets the same results for both, so the results say nothing of
    who gave which answer; the agent never sees a colleague's name; others see nothing."""
    async with medlytt() as app:
        admin, who = await world(app, medlytt_client)
        answers = [
            {"scores": scores(5), "comment": "Always helps new colleagues."},
            {"scores": scores(2, None), "comment": "Could share more at meetings."},
            {"scores": scores(4), "comment": None},
        ]
        first = await open_round(admin, who, COLLEAGUES[:3])
        second = await open_round(admin, who, COLLEAGUES[1:])
        for name, body in zip(COLLEAGUES[:3], answers, strict=True):
            assert (await answer(admin, who, first, name, body)).status == 201
        for name, body in zip(COLLEAGUES[1:], reversed(answers), strict=True):
            assert (await answer(admin, who, second, name, body)).status == 201

        readers = {"receiver": 200, "sup-a": 200, "admin": 200, "a2": 404, "b1": 404, "sup-b": 404}
        readers |= dict.fromkeys(COLLEAGUES, 404)
        for reader, status in readers.items():
            headers = who.get(reader, {})  # the admin client's own token without headers
            views = []
            for round_id in (first, second):
                response = await admin.get(f"/api/attitude/rounds/{round_id}", headers=headers)
                assert response.status == status, (reader, await response.text())
                views.append(await response.json())
            listed = await admin.get("/api/attitude/rounds", headers=headers)
            assert listed.status == 200, reader
            rounds = (await listed.json())["rounds"]
            if status == 404:
                assert rounds == [], reader
                continue
            assert {r["id"] for r in rounds} == {first, second}, reader
            assert views[0]["results"] == views[1]["results"] is not None, reader
            assert views[0]["results"]["comments"] == sorted(
                a["comment"] for a in answers if a["comment"]
            )
            if reader == "receiver":
                text = json.dumps([views, rounds])
                for name in COLLEAGUES:
                    assert name not in text, name
                assert "colleagues" not in views[0]
            else:
                # Leaders see whom they invited and who answered, never which answer is whose.
                assert views[0]["colleagues"] == [
                    {"name": n, "answered": True} for n in sorted(COLLEAGUES[:3])
                ]
                assert not any(n in json.dumps(views[0]["results"]) for n in COLLEAGUES)

        # The agent's own view of their invitations names the round, not the other invitees.
        mine = await (
            await admin.get("/api/attitude/invitations", headers=who[COLLEAGUES[1]])
        ).json()
        assert {i["round_id"] for i in mine["invitations"]} == {first, second}
        assert all(i["answered"] and i["agent_id"] == A1 for i in mine["invitations"])
        # Nothing kept or published links an answer to its author.
        columns = app.storage.run_sync(lambda db: [c.name for c in db.table(store.ANSWERS).columns])
        assert sorted(columns) == ["comment", "id", "round_id", "scores"]
        journal = await (await admin.get("/api/events", params={"limit": 1000})).json()
        for row in journal["events"]:
            if row["event"]["type"].startswith("attitude."):
                assert not any(n in json.dumps(row) for n in COLLEAGUES), row


async def test_who_may_open_and_answer_and_what_is_refused(medlytt, medlytt_client):
    async with medlytt() as app:
        admin, who = await world(app, medlytt_client)
        url = "/api/attitude/rounds"
        for body, headers, status, message in (
            ({"agent": A1, "colleagues": COLLEAGUES}, who["receiver"], 403, ""),
            ({"agent": A1, "colleagues": COLLEAGUES}, who["sup-b"], 403, "PJSIP/1001"),
            (
                {"agent": B1, "colleagues": ["receiver", "a2", "kari-colleague"]},
                {},
                409,
                "attitude",
            ),
            ({"agent": A1, "colleagues": COLLEAGUES[:2]}, {}, 422, "at least 3 different"),
            (
                {"agent": A1, "colleagues": [*COLLEAGUES[:2], "KARI-colleague"]},
                {},
                422,
                "at least 3 different",
            ),
            ({"agent": A1, "colleagues": [*COLLEAGUES, "nobody"]}, {}, 422, "'nobody'"),
            ({"agent": A1, "colleagues": [*COLLEAGUES, "receiver"]}, {}, 422, "is the agent"),
            ({"agent": A1, "colleagues": COLLEAGUES, "form": "phone-technique"}, {}, 422, "form"),
            ({"agent": " ", "colleagues": COLLEAGUES}, {}, 422, "agent must be"),
        ):
            response = await admin.post(url, json=body, headers=headers)
            assert response.status == status, (body, await response.text())
            assert message in (await response.json())["error"], body
        round_id = await open_round(admin, who, COLLEAGUES[:3])
        name = COLLEAGUES[0]
        form = next(f for f in shipped_forms("medlytt.plugins.attitude") if f.id == FORM)
        good = scores(3)
        for body, status, message in (
            ({"scores": {**good, "bogus": 1}}, 422, "unknown item 'bogus'"),
            (
                {"scores": {k: v for k, v in good.items() if k != "positive-energy"}},
                422,
                "'positive-energy'",
            ),
            ({"scores": {**good, "helps-colleagues": 6}}, 422, "takes 1 to 5, got 6"),
            ({"scores": {**good, "helps-colleagues": None}}, 422, "allows no N/A"),
            ({"scores": good, "comment": "x" * 1001}, 422, "at most 1000"),
        ):
            response = await answer(admin, who, round_id, name, body)
            assert response.status == status, (body, await response.text())
            assert message in (await response.json())["error"]
        assert len(form.item_ids()) == len(good)
        assert (await answer(admin, who, round_id, name, {"scores": good})).status == 201
        twice = await answer(admin, who, round_id, name, {"scores": good})
        assert twice.status == 403 and "have answered" in (await twice.json())["error"]
        for outsider in ("receiver", "a2", "sup-a"):
            response = await answer(admin, who, round_id, outsider, {"scores": good})
            assert response.status == 403, outsider
            # A body that does not fit the form tells an outsider nothing of the form either.
            response = await answer(admin, who, round_id, outsider, {"scores": {}})
            assert response.status == 403, (outsider, await response.text())
        assert (await answer(admin, who, "nope", name, {"scores": good})).status == 404
        refused = await admin.post(f"{url}/{round_id}/close", headers=who["sup-b"])
        assert refused.status == 404


async def test_wellbeing_is_shown_per_team_for_weeks_over_with_three_answers(
    medlytt, medlytt_client
):
    async with medlytt() as app:
        admin, who = await world(app, medlytt_client)
        url = "/api/attitude/wellbeing"
        week = {"energy": 4, "workload": 3, "support": 5, "recognition": 2}
        for name in ("receiver", "a2", COLLEAGUES[0]):
            response = await admin.post(url, json={"scores": week}, headers=who[name])
            assert response.status == 201, await response.text()
        current = (await response.json())["period"]
        again = await admin.post(url, json={"scores": week}, headers=who["a2"])
        assert again.status == 409 and current in (await again.json())["error"]
        off = await admin.post(url, json={"scores": week}, headers=who["b1"])
        assert off.status == 409 and "not switched on for team 'b'" in (await off.json())["error"]
        not_mine = await admin.post(url, json={"scores": week, "team": "b"}, headers=who["a2"])
        assert not_mine.status == 403
        bad = await admin.post(url, json={"scores": {**week, "energy": 0}}, headers=who["a2"])
        assert bad.status == 422 and "'energy'" in (await bad.json())["error"]
        staff = await admin.post(url, json={"scores": week}, headers=who["sup-a"])
        assert staff.status == 403

        # Earlier weeks, as three and two agents answered them.
        def earlier(db: Any) -> None:
            for n, energy in enumerate((1, 2, 5)):
                store.check_in(db, "a", "2026-W01", f"user{n}", {**week, "energy": energy})
            for n in range(2):
                store.check_in(db, "a", "2026-W02", f"user{n}", week)

        app.storage.run_sync(earlier)
        body = await (await admin.get(url, headers=who["sup-a"])).json()
        assert [t["team"] for t in body["teams"]] == ["a"]
        weeks = {w["period"]: w for w in body["teams"][0]["weeks"]}
        assert (weeks[current]["answers"], weeks[current]["results"]) == (3, None)
        assert weeks[current]["why_no_results"] == "the week is not over yet"
        assert (
            weeks["2026-W02"]["results"] is None
            and "fewer than 3" in weeks["2026-W02"]["why_no_results"]
        )
        energy = weeks["2026-W01"]["results"]["sections"][0]["items"][0]
        assert (energy["id"], energy["answers"], energy["mean"]) == ("energy", 3, 2.67)
        # An agent sees their own team's aggregates (and whether they checked in), no other.
        mine = await (await admin.get(url, headers=who["a2"])).json()
        assert [t["team"] for t in mine["teams"]] == ["a"]
        assert mine["teams"][0]["you_checked_in_this_week"] is True
        other = await (await admin.get(url, headers=who["b1"])).json()
        assert [(t["team"], t["weeks"]) for t in other["teams"]] == [("b", [])]
        assert (await admin.get(url, params={"team": "a"}, headers=who["sup-b"])).status == 403
        assert (await admin.get(url, params={"weeks": "0"})).status == 422
        # Who checked in is kept apart from what they answered.
        columns = app.storage.run_sync(
            lambda db: [c.name for c in db.table(store.CHECKIN_ANSWERS).columns]
        )
        assert sorted(columns) == ["id", "period", "scores", "team"]
        assert app.metric("medlytt_wellbeing_checkins_total", {"team": "a"}) == 3


FORM_SMALL = EvaluationForm(
    id="t",
    version=1,
    title="t",
    module="attitude",
    sections=(
        FormSection(
            id="s",
            title="S",
            items=(
                FormItem(id="x", text="X", scale=Scale(1, 3)),
                FormItem(id="y", text="Y", scale=Scale(0, 1), allow_na=True),
            ),
        ),
    ),
)


def test_aggregate_depends_on_the_answers_only_not_their_order():
    answers = [{"x": 1, "y": 1}, {"x": 3, "y": None}, {"x": 3, "y": 0}]
    result = aggregate(FORM_SMALL, answers, ["b", "", "a"])
    x, y = result["sections"][0]["items"]
    assert (x["answers"], x["na"], x["mean"], x["distribution"]) == (
        3,
        0,
        2.33,
        {"1": 1, "2": 0, "3": 2},
    )
    assert (y["answers"], y["na"], y["mean"], y["distribution"]) == (2, 1, 0.5, {"0": 1, "1": 1})
    assert result["comments"] == ["a", "b"]
    assert aggregate(FORM_SMALL, reversed(answers), ["a", "b"]) == result
    assert aggregate(FORM_SMALL, [])["sections"][0]["items"][0]["mean"] is None


def test_check_scores_names_what_is_wrong():
    assert check_scores(FORM_SMALL, {"x": 2, "y": None}) == {"x": 2, "y": None}
    for given, message in (
        ({"x": 2}, "must answer item 'y'"),
        ({"x": 2, "y": 0, "z": 1}, "unknown item 'z'"),
        ({"x": None, "y": 0}, "item 'x' needs a value"),
        ({"x": 4, "y": 0}, "takes 1 to 3, got 4"),
        ({"x": True, "y": 0}, "whole number"),
    ):
        with pytest.raises(HttpError) as error:
            check_scores(FORM_SMALL, given)
        assert message in error.value.text, given


def test_each_form_and_its_translation_have_the_same_items_and_scales():
    forms = {f.id: f for f in shipped_forms("medlytt.plugins.attitude")}
    assert set(forms) == {
        "attitude-360",
        "attitude-360-nb",
        "wellbeing-checkin",
        "wellbeing-checkin-nb",
    }
    for base in ("attitude-360", "wellbeing-checkin"):
        en, nb = forms[base], forms[f"{base}-nb"]
        assert (en.language, nb.language, en.module, nb.module) == (
            "en",
            "nb",
            "attitude",
            "attitude",
        )
        pairs = zip(
            [i for s in en.sections for i in s.items],
            [i for s in nb.sections for i in s.items],
            strict=True,
        )
        for a, b in pairs:
            assert (a.id, a.scale.min, a.scale.max, a.allow_na) == (
                b.id,
                b.scale.min,
                b.scale.max,
                b.allow_na,
            )
            assert a.text != b.text


def test_fewer_than_three_is_refused_in_settings():
    import msgspec
    from medlytt.plugins.attitude.settings import AttitudeSettings

    for key in ("min_answers", "min_group"):
        with pytest.raises(msgspec.ValidationError, match=key):
            msgspec.convert({key: 2}, AttitudeSettings)
